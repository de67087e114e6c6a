# SPDX-License-Identifier: Apache-2.0
"""The dashboard's pages: server-rendered HTML of one project's catalogue, read through the
same services, scopes and policy rules as the API, every list paged on the server."""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import falcon
import jinja2

from freezer_api.api.middleware import identity_of
from freezer_api.api.resources import Guard, Kind, Parts
from freezer_api.context import Identity
from freezer_api.errors import FreezerError, InvalidDocument
from freezer_api.service import chains
from freezer_api.service.documents import Call, DocumentService
from freezer_api.service.objectives import ALL_STATES, Compliance
from freezer_api.service.search import Search
from freezer_api.storage.base import Page, SetBackup

HERE = Path(__file__).parent
STATIC = HERE / "static"
#: pages hold a project's data: never cached, never framed, no script but ours
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: the metadata keys that give a backup's size, in the order they are preferred
SIZE_KEYS = ("backup_size_compressed", "backup_size_uncompressed", "total_backup_session_size")
#: the names of the pages in the navigation, by path below /dashboard
NAVIGATION = (
    ("", "Backup sets"),
    ("clients", "Clients"),
    ("jobs", "Jobs"),
    ("sessions", "Sessions"),
    ("events", "Events"),
)
#: the cookie holding the sign-in form's and the sign-out form's CSRF token
CSRF_COOKIE = "freezer_csrf"


def when(time_stamp: Any) -> str:
    """An epoch time as UTC ISO 8601; anything else as it is."""
    if isinstance(time_stamp, bool) or not isinstance(time_stamp, int):
        return "" if time_stamp is None else str(time_stamp)
    try:
        moment = datetime.datetime.fromtimestamp(time_stamp, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return str(time_stamp)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def duration(seconds: Any) -> str:
    if not isinstance(seconds, int):
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def size_of(backup: SetBackup) -> int | None:
    metadata = backup.doc.get("backup_metadata") or {}
    for key in SIZE_KEYS:
        value = metadata.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
    )
    environment.filters["when"] = when
    environment.filters["duration"] = duration
    return environment


@dataclasses.dataclass(frozen=True)
class Services:
    """What the pages read the catalogue with, built once per app."""

    parts: Parts
    kinds: dict[str, Kind]
    services: dict[str, DocumentService]
    guards: dict[str, Guard]
    compliance: Compliance
    page_size: int
    keystone: bool
    environment: jinja2.Environment

    def guard(self, plural: str) -> Guard:
        return self.guards[plural]


class PageResource:
    """A GET page: ``view`` returns the template and its values, for the project the page
    shows (the caller's own, or ``?project=`` for whom the policy allows)."""

    template = ""

    def __init__(self, services: Services) -> None:
        self._services = services

    def view(self, req: falcon.Request, identity: Identity, project_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        identity = identity_of(req)
        project_id = req.get_param("project") or identity.project_id
        try:
            values = self.view(req, identity, project_id)
        except FreezerError as error:
            render_error(self._services, req, resp, error, identity, project_id)
            return
        render(self._services, req, resp, self.template, identity, project_id, values)

    # -- helpers ---------------------------------------------------------------
    def call(self, req: falcon.Request, plural: str, project_id: str) -> Call:
        """The call of the kind's list rule on ``project_id`` (403 if the policy refuses)."""
        kind = self._services.kinds[plural]
        return self._services.guard(plural).call(req, project_id, kind.rule("list"), reading=True)

    def authorize(self, req: falcon.Request, rule: str, project_id: str) -> None:
        self._services.parts.policy.authorize(rule, identity_of(req), project_id)

    def limit(self) -> int:
        return self._services.page_size


def render(
    services: Services,
    req: falcon.Request,
    resp: falcon.Response,
    template: str,
    identity: Identity | None,
    project_id: str | None,
    values: dict[str, Any],
) -> None:
    base = req.root_path.rstrip("/") + "/dashboard"
    page = services.environment.get_template(template).render(
        base=base,
        identity=identity,
        project_id=project_id,
        own_project=identity is not None and project_id == identity.project_id,
        may_switch=identity is not None and "admin" in identity.roles,
        navigation=NAVIGATION,
        keystone=services.keystone,
        csrf=req.cookies.get(CSRF_COOKIE, ""),
        path=req.path,
        **values,
    )
    resp.content_type = falcon.MEDIA_HTML
    resp.set_headers(PAGE_HEADERS)
    resp.text = page


def render_error(
    services: Services,
    req: falcon.Request,
    resp: falcon.Response,
    error: FreezerError,
    identity: Identity | None,
    project_id: str | None,
) -> None:
    from freezer_api.api.errors import STATUS

    status = next(STATUS[cls] for cls in type(error).__mro__ if cls in STATUS)
    resp.status = status
    values = {"status": status, "message": str(error)}
    render(services, req, resp, "error.html", identity, project_id, values)


def link(base: str, path: str, **params: Any) -> str:
    """``base/path?params`` with the params that are set, quoted."""
    from urllib.parse import urlencode

    query = urlencode({key: value for key, value in params.items() if value not in (None, "")})
    return f"{base}/{path}" + (f"?{query}" if query else "")


class OverviewPage(PageResource):
    """``/dashboard/``: the project's backup sets, their last restorable backup and their
    state against the freshness objectives."""

    template = "overview.html"

    def view(self, req: falcon.Request, identity: Identity, project_id: str) -> dict[str, Any]:
        self.authorize(req, "compliance:get", project_id)
        state = req.get_param("state") or None
        if state is not None and state not in ALL_STATES:
            raise InvalidDocument(f"state is one of {', '.join(ALL_STATES)}, not {state!r}.")
        entries, after = self._services.compliance.page(
            project_id, {}, req.get_param("marker") or None, self.limit()
        )
        if state is not None:
            entries = [entry for entry in entries if entry["state"] == state]
        return {"sets": entries, "next": after, "state": state, "states": ALL_STATES}


class SetPage(PageResource):
    """``/dashboard/set?hostname=H&backup_name=B[&container=C]``: the set's backups, newest
    first, each with its chain (restorable, or why not), and their timeline."""

    template = "set.html"

    def view(self, req: falcon.Request, identity: Identity, project_id: str) -> dict[str, Any]:
        self.authorize(req, "restore-points:get", project_id)
        sets = self._services.parts.storage.backup_sets
        params = {
            key: value
            for key in ("hostname", "backup_name", "container")
            if isinstance(value := req.get_param(key), str)
        }
        before = _cursor(req.get_param("marker"))
        name = chains.set_name(sets, project_id, params)
        found = chains.Chains(sets, project_id)
        limit = self.limit()
        # NOTE: one more than a page tells whether there is a next one
        backups = sets.backups(project_id=project_id, key=name.key, before=before, limit=limit + 1)
        more = len(backups) > limit
        backups = backups[:limit]
        rows = []
        for backup in backups:
            chain = found.chain(name, backup)
            rows.append(
                {
                    "backup": backup,
                    "size": size_of(backup),
                    "chain": chain.backups,
                    "problem": chain.problem,
                }
            )
        last = backups[-1] if more else None
        sizes = [size_of(backup) for backup in reversed(backups)]
        timeline = {
            "time": [backup.time_stamp for backup in reversed(backups)],
            "size": sizes,
            "level": [backup.level for backup in reversed(backups)],
        }
        return {
            "name": name,
            "rows": rows,
            "next": None if last is None else f"{last.time_stamp}:{last.order}",
            "timeline": json.dumps(timeline),
            "sized": any(size is not None for size in sizes),
        }


def _cursor(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    time_stamp, _, order = text.partition(":")
    if not (time_stamp.lstrip("-").isdigit() and order.isdigit()):
        raise InvalidDocument(f"The marker {text!r} is not one this page gave.")
    return int(time_stamp), int(order)


class ListPage(PageResource):
    """A kind's records, paged by id (``marker``), as the API lists them."""

    plural = ""
    #: the page shows what ``?liveness=true`` adds (clients, jobs)
    liveness = False

    def view(self, req: falcon.Request, identity: Identity, project_id: str) -> dict[str, Any]:
        return self.records(req, project_id, Search())

    def records(self, req: falcon.Request, project_id: str, search: Search) -> dict[str, Any]:
        call = self.call(req, self.plural, project_id)
        service = self._services.services[self.plural]
        limit = self.limit()
        page = Page(limit=limit + 1, offset=0, marker=req.get_param("marker") or None)
        records = service.search(call, search, page)
        more = len(records) > limit
        records = records[:limit]
        kind = self._services.kinds[self.plural]
        rendered = [kind.render(record) for record in records]
        if self.liveness:
            extras = service.liveness(call, records)
            rendered = [{**each, **extra} for each, extra in zip(rendered, extras, strict=True)]
        after = records[-1].doc_id if more else None
        return {"records": rendered, "next": after}


class ClientsPage(ListPage):
    """``/dashboard/clients``: the schedulers, their last contact and whether they are alive."""

    template = "clients.html"
    plural = "clients"
    liveness = True


class JobsPage(ListPage):
    """``/dashboard/jobs``: the jobs, their state, and whether a silent client left them
    stale."""

    template = "jobs.html"
    plural = "jobs"
    liveness = True


class SessionsPage(ListPage):
    """``/dashboard/sessions``: the sessions and their jobs' states."""

    template = "sessions.html"
    plural = "sessions"


class SearchPage(ListPage):
    """``/dashboard/search?q=TEXT``: the backups whose id, name, host or container is TEXT
    (the API's free-text search)."""

    template = "search.html"
    plural = "backups"

    def view(self, req: falcon.Request, identity: Identity, project_id: str) -> dict[str, Any]:
        text = (req.get_param("q") or "").strip()
        if not text:
            return {"q": "", "records": [], "next": None}
        if len(text) > 255:
            raise InvalidDocument("A search is at most 255 characters.")
        return {"q": text, **self.records(req, project_id, Search(text=(text,)))}


class EventsPage(PageResource):
    """``/dashboard/events``: the project's latest changes, newest first."""

    template = "events.html"

    def view(self, req: falcon.Request, identity: Identity, project_id: str) -> dict[str, Any]:
        self.authorize(req, "events:get_all", project_id)
        raw = req.get_param("before")
        if raw is not None and not (raw.isdigit() and len(raw) <= 19):
            raise InvalidDocument(f"The cursor {raw!r} is not one this page gave.")
        limit = self.limit()
        events = self._services.parts.storage.events.latest(
            project_id=project_id, before=None if raw is None else int(raw), limit=limit + 1
        )
        after = str(events[limit - 1].seq) if len(events) > limit else None
        events = events[:limit]
        return {"events": events, "next": after}


def build(parts: Parts, kinds: Iterable[Kind], page_size: int, keystone: bool) -> Services:
    by_plural = {kind.plural: kind for kind in kinds}
    wanted = ("backups", "clients", "jobs", "sessions")
    return Services(
        parts=parts,
        kinds=by_plural,
        services={
            plural: DocumentService(
                by_plural[plural].rules.build(parts.wiring),
                parts.storage,
                parts.wiring.text_search,
            )
            for plural in wanted
        },
        guards={plural: Guard(by_plural[plural], parts.policy) for plural in wanted},
        compliance=Compliance(parts.storage, parts.wiring.clock),
        page_size=page_size,
        keystone=keystone,
        environment=templates(),
    )


PAGES: tuple[tuple[str, Callable[[Services], PageResource]], ...] = (
    ("", OverviewPage),
    ("/set", SetPage),
    ("/clients", ClientsPage),
    ("/jobs", JobsPage),
    ("/sessions", SessionsPage),
    ("/events", EventsPage),
    ("/search", SearchPage),
)
