# SPDX-License-Identifier: Apache-2.0
"""One generic document resource, and the small extras (versions, JSON home)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

import falcon

from freezer_api.api import compat
from freezer_api.api.middleware import identity_of
from freezer_api.context import Identity
from freezer_api.policy import Policy
from freezer_api.service.documents import Call, DocumentService, Rules, Wiring
from freezer_api.service.sessions import SessionActions
from freezer_api.storage.base import Document, Record, Scope, Storage

VERBS = frozenset({"list", "create", "get", "patch", "replace", "delete"})
RULE_OF_VERB = {
    "list": "get_all",
    "create": "create",
    "get": "get",
    "patch": "update",
    "replace": "replace",
    "delete": "delete",
}
METHOD_OF_VERB = {
    "list": "GET",
    "create": "POST",
    "get": "GET",
    "patch": "PATCH",
    "replace": "PUT",
    "delete": "DELETE",
}


@dataclasses.dataclass(frozen=True)
class Limits:
    default_limit: int
    max_limit: int
    max_body_size: int


@dataclasses.dataclass(frozen=True)
class Rule:
    """A policy rule of a kind besides its verbs', and the route it guards."""

    name: str
    check: str
    method: str
    #: below the kind's collection: "" for the collection, "/{id}/event" for an item's
    path: str = ""
    #: of a sub-route: its body's and its answer's JSON schemas (None: none), its status
    body: dict[str, Any] | None = None
    answer: dict[str, Any] | None = None
    status: int = 200


@dataclasses.dataclass(frozen=True)
class Param:
    """A query parameter a route accepts: its name, its JSON schema, what it does."""

    name: str
    schema: dict[str, Any]
    description: str = ""


def names(params: tuple[Param, ...]) -> tuple[str, ...]:
    return tuple(param.name for param in params)


@dataclasses.dataclass(frozen=True)
class Parts:
    """What the resources of every kind are built with."""

    storage: Storage
    limits: Limits
    policy: Policy
    wiring: Wiring


@dataclasses.dataclass(frozen=True)
class SubRoute:
    """A route below a kind's item (``jobs/{id}/event``), with the rules it checks."""

    #: below the item: "event", "jobs/{job_id}"
    path: str
    resource: Callable[[Kind, Parts], object]
    rules: tuple[Rule, ...]


@dataclasses.dataclass(frozen=True)
class Kind:
    """What one API version says about one kind of document: one entry of its table."""

    #: the service rules; their ``noun`` ("backup") and ``plural`` ("backups": the path
    #: segment, the list key and the repository) name the kind everywhere
    rules: type[Rules]
    verbs: frozenset[str]
    render: Callable[[Record], Document]
    #: body answered to PATCH and replace
    updated: Callable[[Record], Document]
    #: the policy check of each verb
    checks: Mapping[str, str]
    scope_of: Callable[[Identity, str | None], Scope]
    #: Freezer v2 replaces with POST to the item (and answers 201); the seed's v1 used PUT
    replace_method: str = "PUT"
    #: reads also show the records every project shares (v2 central clients)
    reads_shared: bool = False
    #: rules checked on create besides "<plural>:create", by body (clients:create_central)
    create_rules: Callable[[Document], list[str]] = lambda body: []
    #: rule that lets a list span all projects (``?all_projects=true``)
    all_projects_rule: Rule | None = None
    #: the rules ``create_rules`` names
    rules_besides: tuple[Rule, ...] = ()
    sub_routes: tuple[SubRoute, ...] = ()

    def __post_init__(self) -> None:
        unknown = self.verbs - VERBS
        if unknown:
            raise ValueError(f"{self.plural}: unknown verbs {sorted(unknown)}")
        unchecked = self.verbs - set(self.checks)
        if unchecked:
            raise ValueError(f"{self.plural}: no policy check for {sorted(unchecked)}")

    @property
    def name(self) -> str:
        return self.rules.noun

    @property
    def plural(self) -> str:
        return self.rules.plural

    @property
    def id_key(self) -> str:
        return f"{self.name}_id"

    def rule(self, verb: str) -> str:
        return f"{self.plural}:{RULE_OF_VERB[verb]}"

    def declared_rules(self) -> list[Rule]:
        """Every rule of the kind besides its verbs', with the route each guards."""
        wide = [self.all_projects_rule] if self.all_projects_rule else []
        below = [rule for sub in self.sub_routes for rule in sub.rules]
        return [*self.rules_besides, *wide, *below]

    def method(self, verb: str) -> str:
        return self.replace_method if verb == "replace" else METHOD_OF_VERB[verb]

    def methods(self, *, item: bool) -> list[str]:
        collection = {"list", "create"}
        return sorted({self.method(verb) for verb in self.verbs if (verb in collection) != item})


@dataclasses.dataclass(frozen=True)
class View:
    """A read-only route beside the kinds (``backup-sets``), answered from what they hold."""

    #: below the version's prefix
    path: str
    rule: Rule
    resource: Callable[[Parts], object]


@dataclasses.dataclass(frozen=True)
class ApiVersion:
    id: str
    status: str
    updated: str
    #: the path every kind's routes start with
    prefix: str
    kinds: tuple[Kind, ...]
    views: tuple[View, ...] = ()


def user_scope(identity: Identity, project_id: str | None) -> Scope:
    """v1: a user sees their own documents."""
    return Scope(user_id=identity.user_id)


def project_scope(identity: Identity, project_id: str | None) -> Scope:
    """v2: the documents of the project named in the URL."""
    assert project_id is not None
    return Scope(project_id=project_id)


def set_version(resp: falcon.Response, record: Record) -> None:
    resp.etag = f'"{record.version}"'


class Guard:
    """Checks that a kind serves a verb (405) and that policy allows the caller (403)."""

    def __init__(self, kind: Kind, policy: Policy) -> None:
        for verb in kind.verbs:
            if not policy.knows(kind.rule(verb)):
                raise ValueError(f"{kind.plural}: no policy rule {kind.rule(verb)}")
        self.kind = kind
        self._policy = policy

    def call(
        self, req: falcon.Request, project_id: str | None, rule: str, *, reading: bool = False
    ) -> Call:
        """Authorize ``rule`` and return the call: identity, scope and owning project."""
        identity = identity_of(req)
        project = project_id or identity.project_id
        self._policy.authorize(rule, identity, project)
        scope = self.kind.scope_of(identity, project_id)
        if reading and self.kind.reads_shared:
            scope = dataclasses.replace(scope, shared=True)
        wide = self.kind.all_projects_rule
        privileged = wide is not None and self._policy.allows(wide.name, identity, project)
        return Call(identity=identity, scope=scope, project_id=project, privileged=privileged)

    def verb(self, req: falcon.Request, verb: str, project_id: str | None, *, item: bool) -> Call:
        if verb not in self.kind.verbs:
            raise falcon.HTTPMethodNotAllowed([*self.kind.methods(item=item), "OPTIONS"])
        return self.call(req, project_id, self.kind.rule(verb), reading=verb in {"list", "get"})

    def authorize(self, req: falcon.Request, rule: str, project_id: str | None) -> None:
        identity = identity_of(req)
        self._policy.authorize(rule, identity, project_id or identity.project_id)


class DocumentResource:
    """Collection (``suffix="collection"``) and item responders for one kind."""

    def __init__(self, kind: Kind, service: DocumentService, parts: Parts) -> None:
        self._kind = kind
        self._guard = Guard(kind, parts.policy)
        self._service = service
        self._limits = parts.limits

    # -- collection ------------------------------------------------------------
    def on_get_collection(
        self, req: falcon.Request, resp: falcon.Response, project_id: str | None = None
    ) -> None:
        call = self._guard.verb(req, "list", project_id, item=False)
        wide = self._kind.all_projects_rule
        if wide is not None and compat.all_projects(req):
            self._guard.authorize(req, wide.name, project_id)
            call = dataclasses.replace(call, scope=Scope(everywhere=True))
        page = compat.page_of(req, self._limits.default_limit, self._limits.max_limit)
        search = compat.search_of(req, self._limits.max_body_size)
        records = self._service.search(call, search, page)
        resp.media = {self._kind.plural: self._rendered(req, call, records)}

    def on_post_collection(
        self, req: falcon.Request, resp: falcon.Response, project_id: str | None = None
    ) -> None:
        call = self._guard.verb(req, "create", project_id, item=False)
        body = compat.read_object(req, self._limits.max_body_size)
        for rule in self._kind.create_rules(body):
            self._guard.authorize(req, rule, project_id)
        record = self._service.create(call, body)
        resp.status = falcon.HTTP_201
        resp.location = f"{req.path.rstrip('/')}/{record.doc_id}"
        set_version(resp, record)
        resp.media = {self._kind.id_key: record.doc_id}

    # -- item ------------------------------------------------------------------
    def on_get(
        self, req: falcon.Request, resp: falcon.Response, doc_id: str, project_id: str | None = None
    ) -> None:
        call = self._guard.verb(req, "get", project_id, item=True)
        record = self._service.get(call, doc_id)
        set_version(resp, record)
        resp.media = self._rendered(req, call, [record])[0]

    def on_patch(
        self, req: falcon.Request, resp: falcon.Response, doc_id: str, project_id: str | None = None
    ) -> None:
        call = self._guard.verb(req, "patch", project_id, item=True)
        if_version = compat.if_match_version(req)
        body = compat.read_object(req, self._limits.max_body_size)
        record = self._service.patch(call, doc_id, body, if_version)
        set_version(resp, record)
        resp.media = self._kind.updated(record)

    def on_put(
        self, req: falcon.Request, resp: falcon.Response, doc_id: str, project_id: str | None = None
    ) -> None:
        self._replace(req, resp, doc_id, project_id, "PUT")

    def on_post(
        self, req: falcon.Request, resp: falcon.Response, doc_id: str, project_id: str | None = None
    ) -> None:
        self._replace(req, resp, doc_id, project_id, "POST")

    def on_delete(
        self, req: falcon.Request, resp: falcon.Response, doc_id: str, project_id: str | None = None
    ) -> None:
        call = self._guard.verb(req, "delete", project_id, item=True)
        self._service.delete(call, doc_id, cascade=compat.flag(req, "cascade"))
        resp.status = falcon.HTTP_204

    # -- helpers ---------------------------------------------------------------
    def _rendered(self, req: falcon.Request, call: Call, records: list[Record]) -> list[Document]:
        """The answers of ``records``; with ``?liveness=true``, what the kind adds to each."""
        render = self._kind.render
        if not compat.flag(req, "liveness"):
            return [render(record) for record in records]
        added = self._service.liveness(call, records)
        return [{**render(record), **extra} for record, extra in zip(records, added, strict=True)]

    def _replace(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        doc_id: str,
        project_id: str | None,
        method: str,
    ) -> None:
        if method != self._kind.replace_method:
            raise falcon.HTTPMethodNotAllowed([*self._kind.methods(item=True), "OPTIONS"])
        call = self._guard.verb(req, "replace", project_id, item=True)
        if_version = compat.if_match_version(req)
        body = compat.read_object(req, self._limits.max_body_size)
        record, created = self._service.replace(call, doc_id, body, if_version)
        set_version(resp, record)
        if method == "POST":
            # NOTE: Freezer clients require 201 from POST to an item, created or replaced.
            resp.status = falcon.HTTP_201
        resp.media = self._kind.updated(record)


class CommandResource:
    """``POST`` to an item's sub-resource that runs a command: 202 and its outcome.

    Serves ``.../jobs/{doc_id}/event`` and ``.../sessions/{doc_id}/action``.
    """

    def __init__(
        self,
        kind: Kind,
        rule: str,
        run: Callable[[Call, str, Any, int | None], Document],
        parts: Parts,
    ) -> None:
        self._guard = Guard(kind, parts.policy)
        self._rule = rule
        self._run = run
        self._limits = parts.limits

    def on_post(
        self, req: falcon.Request, resp: falcon.Response, doc_id: str, project_id: str | None = None
    ) -> None:
        call = self._guard.call(req, project_id, self._rule)
        if_version = compat.if_match_version(req)
        body = compat.read_object(req, self._limits.max_body_size)
        resp.status = falcon.HTTP_202
        resp.media = self._run(call, doc_id, body, if_version)


class SessionJobResource:
    """``PUT`` / ``DELETE .../sessions/{doc_id}/jobs/{job_id}``: 204."""

    def __init__(self, kind: Kind, actions: SessionActions, parts: Parts) -> None:
        self._guard = Guard(kind, parts.policy)
        self._actions = actions

    def on_put(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        doc_id: str,
        job_id: str,
        project_id: str | None = None,
    ) -> None:
        call = self._guard.call(req, project_id, "sessions:job:add")
        self._actions.add_job(call, doc_id, job_id)
        resp.status = falcon.HTTP_204

    def on_delete(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        doc_id: str,
        job_id: str,
        project_id: str | None = None,
    ) -> None:
        call = self._guard.call(req, project_id, "sessions:job:remove")
        self._actions.remove_job(call, doc_id, job_id)
        resp.status = falcon.HTTP_204


class VersionsResource:
    """``GET /``: 300 Multiple Choices, built per request from the request's own URL."""

    def __init__(self, versions: tuple[ApiVersion, ...]) -> None:
        self._versions = versions

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        base = req.prefix.rstrip("/")
        resp.status = falcon.HTTP_300
        resp.media = {
            "versions": [
                {
                    "id": version.id,
                    "status": version.status,
                    "updated": version.updated,
                    "links": [{"href": f"{base}/{version.id}/", "rel": "self"}],
                }
                for version in self._versions
            ]
        }


class HomeResource:
    """``GET /v1``, ``GET /v2``: a JSON home document (draft-nottingham-json-home-03)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._body = json.dumps(document, indent=4).encode()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "application/json-home"
        resp.data = self._body
