# SPDX-License-Identifier: Apache-2.0
"""Turning an Elasticsearch-backed freezer-api's index into this service's records.

The index is read over plain HTTP with scroll paging, whatever engine holds it
(Elasticsearch 1.x and 2.x with its types ``backups``, ``clients``, ``jobs``, ``actions``
and ``sessions``; later Elasticsearch and OpenSearch without types, where each document's
fields tell its kind), or from a dump file: one hit per line (elasticdump's
``{"_index", "_type", "_id", "_source"}``) or one document per line.

What real indexes hold is taken as it is where it can be: v1 documents without a project
(given ``default_project_id``, else refused and reported), composite v1 backup ids, a
client whose ``_id`` is not its ``client_id``, sessions' jobs as a mapping, empty strings
where numbers belong. Each refusal names the document and why.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import IO, Any

import requests

from freezer_api.service.actions import action_document, action_fields
from freezer_api.service.backups import index_fields
from freezer_api.service.clients import ClientRules
from freezer_api.service.jobs import job_fields
from freezer_api.service.schemas import CAPABILITIES
from freezer_api.service.sessions import session_fields
from freezer_api.storage.base import Document

KINDS = ("backups", "clients", "jobs", "actions", "sessions")
#: how many hits one scroll page holds, and how long the engine keeps a scroll between pages
PAGE = 500
SCROLL = "5m"
#: the ids of actions made from jobs' embedded steps that name none: stable across imports
STEP_IDS = uuid.UUID("5f0d1c2a-6f7e-4b1c-9a43-1a2b3c4d5e6f")


@dataclasses.dataclass
class Report:
    """What an import read, kept and refused (``refused``: up to 100 reasons, and a count)."""

    read: Counter[str] = dataclasses.field(default_factory=Counter)
    refused: Counter[str] = dataclasses.field(default_factory=Counter)
    reasons: list[str] = dataclasses.field(default_factory=list)

    def refuse(self, kind: str, doc_id: Any, reason: str) -> None:
        self.refused[kind] += 1
        if len(self.reasons) < 100:
            self.reasons.append(f"{kind} {doc_id}: {reason}")

    def summary(self) -> str:
        if not self.refused:
            return "nothing refused"
        total = sum(self.refused.values())
        listed = "; ".join(self.reasons[:10])
        more = f" (and {total - 10} more)" if total > 10 else ""
        return f"refused {total}: {listed}{more}"


def kind_of(hit: Document) -> str | None:
    """The kind of a hit: its type where the index has types, else what its fields say."""
    typed = hit.get("_type")
    if typed in KINDS:
        return str(typed)
    source = hit.get("_source") or {}
    if "backup_metadata" in source:
        return "backups"
    if isinstance(source.get("client"), dict):
        return "clients"
    if "job_actions" in source or "job_schedule" in source:
        return "jobs"
    if "freezer_action" in source:
        return "actions"
    if "session_id" in source or ("schedule" in source and "jobs" in source):
        return "sessions"
    return None


def _number(value: Any, default: Any = None) -> Any:
    """An integer from what an index holds: ``""`` and other non-numbers are ``default``."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return default


def _numbers(document: Document, names: Iterable[str], default: Any = None) -> Document:
    """``document`` with each of ``names`` it holds as an integer (dropped when it is none,
    unless a ``default`` stands in)."""
    cleaned = dict(document)
    for name in names:
        if name in cleaned:
            number = _number(cleaned[name], default)
            if number is None:
                del cleaned[name]
            else:
                cleaned[name] = number
    return cleaned


BACKUP_NUMBERS = ("time_stamp", "timestamp", "curr_backup_level", "level", "max_level")
SCHEDULE_NUMBERS = ("time_created", "time_started", "time_ended", "current_pid")


class Converter:
    """Hits in, records (``freezer-manage db export`` lines) out."""

    def __init__(self, default_project_id: str | None, report: Report) -> None:
        self._default_project = default_project_id
        self._report = report
        self._action_ids: set[str] = set()

    def records(self, hits: Iterable[Document]) -> Iterator[Document]:
        for hit in hits:
            kind = kind_of(hit)
            if kind is None:
                self._report.refuse("document", hit.get("_id"), "not a freezer-api document")
                continue
            self._report.read[kind] += 1
            source = hit.get("_source")
            if not isinstance(source, dict):
                self._report.refuse(kind, hit.get("_id"), "no _source")
                continue
            yield from getattr(self, f"_{kind}")(hit, source)

    # -- helpers ---------------------------------------------------------------
    def _owner(self, kind: str, doc_id: Any, source: Document) -> tuple[str, str] | None:
        project = source.get("project_id") or self._default_project
        if not project:
            self._report.refuse(
                kind, doc_id, "no project_id (a v1 document): give --default-project-id"
            )
            return None
        return str(project), str(source.get("user_id") or "")

    @staticmethod
    def _record(
        kind: str, doc_id: str, owner: tuple[str, str], doc: Document, fields: Document
    ) -> Document:
        return {
            "kind": kind,
            "doc_id": doc_id,
            "project_id": owner[0],
            "user_id": owner[1],
            "version": 1,
            "doc": doc,
            "fields": fields,
        }

    # -- kinds -----------------------------------------------------------------
    def _backups(self, hit: Document, source: Document) -> Iterator[Document]:
        doc_id = source.get("backup_id") or hit.get("_id")
        metadata = source.get("backup_metadata")
        if not doc_id or not isinstance(metadata, dict):
            self._report.refuse("backups", doc_id, "no backup_id or backup_metadata")
            return
        owner = self._owner("backups", doc_id, source)
        if owner is None:
            return
        metadata = _numbers(metadata, BACKUP_NUMBERS)
        status = source.get("status") if isinstance(source.get("status"), str) else "available"
        doc: Document = {"status": status, "backup_metadata": metadata}
        if source.get("user_name"):
            doc = {"user_name": source["user_name"], **doc}
        yield self._record("backups", str(doc_id), owner, doc, index_fields(metadata, status))

    def _clients(self, hit: Document, source: Document) -> Iterator[Document]:
        given = source["client"]
        client_id = given.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            self._report.refuse("clients", hit.get("_id"), "no client.client_id")
            return
        owner = self._owner("clients", client_id, source)
        if owner is None:
            return
        client = {
            **given,
            "client_id": client_id,
            "hostname": given.get("hostname"),
            "description": given.get("description") or "",
            "uuid": given.get("uuid") or source.get("uuid") or hit.get("_id") or client_id,
            "is_central": bool(given.get("is_central")),
            **{name: given.get(name) or list(values) for name, values in CAPABILITIES.items()},
        }
        yield self._record(
            "clients", client_id, owner, {"client": client}, ClientRules.fields(client)
        )

    def _actions(self, hit: Document, source: Document) -> Iterator[Document]:
        action_id = source.get("action_id") or hit.get("_id")
        if not action_id or not isinstance(source.get("freezer_action"), dict):
            self._report.refuse("actions", action_id, "no action_id or freezer_action")
            return
        if str(action_id) in self._action_ids:
            return
        owner = self._owner("actions", action_id, source)
        if owner is None:
            return
        yield self._action(str(action_id), owner, source)

    def _action(self, action_id: str, owner: tuple[str, str], body: Document) -> Document:
        self._action_ids.add(action_id)
        cleaned = _numbers(body, ("max_retries", "max_retries_interval"))
        doc = action_document({key: value for key, value in cleaned.items() if key in ACTION_BODY})
        return self._record("actions", action_id, owner, doc, action_fields(doc))

    def _jobs(self, hit: Document, source: Document) -> Iterator[Document]:
        job_id = source.get("job_id") or hit.get("_id")
        client_id = source.get("client_id")
        if not job_id or not isinstance(client_id, str):
            self._report.refuse("jobs", job_id, "no job_id or client_id")
            return
        owner = self._owner("jobs", job_id, source)
        if owner is None:
            return
        steps = []
        for position, item in enumerate(source.get("job_actions") or []):
            if not isinstance(item, dict):
                continue
            action_id = item.get("action_id") or str(uuid.uuid5(STEP_IDS, f"{job_id}/{position}"))
            if isinstance(item.get("freezer_action"), dict) and action_id not in self._action_ids:
                yield self._action(str(action_id), owner, item)
            extras = {
                key: value for key, value in item.items() if key not in ACTION_BODY | {"action_id"}
            }
            mandatory = item.get("mandatory", (item.get("freezer_action") or {}).get("mandatory"))
            steps.append({**extras, "action_id": str(action_id), "mandatory": bool(mandatory)})
        given = source.get("job_schedule")
        schedule: Document = given if isinstance(given, dict) else {}
        doc: Document = {
            "job_schedule": _numbers(schedule, SCHEDULE_NUMBERS),
            "client_id": client_id,
            "session_id": source.get("session_id") or "",
            "session_tag": _number(source.get("session_tag"), 0),
            "description": source.get("description") or "",
            "job_actions": steps,
        }
        if isinstance(source.get("user_credentials"), dict):
            doc["user_credentials"] = source["user_credentials"]
        yield self._record("jobs", str(job_id), owner, doc, job_fields(doc))

    def _sessions(self, hit: Document, source: Document) -> Iterator[Document]:
        session_id = source.get("session_id") or hit.get("_id")
        if not session_id:
            self._report.refuse("sessions", session_id, "no session_id")
            return
        owner = self._owner("sessions", session_id, source)
        if owner is None:
            return
        jobs = source.get("jobs")
        if isinstance(jobs, list):
            # NOTE: some indexes hold the mapping as a list of {job_id: entry}
            jobs = {
                key: value for item in jobs if isinstance(item, dict) for key, value in item.items()
            }
        doc = {
            "description": source.get("description") or "",
            "hold_off": _number(source.get("hold_off"), 30),
            "schedule": source.get("schedule") if isinstance(source.get("schedule"), dict) else {},
            "session_tag": _number(source.get("session_tag"), 0),
            "status": source.get("status") or "active",
            "result": source.get("result") or None,
            "jobs": jobs if isinstance(jobs, dict) else {},
            **{
                name: _number(source.get(name), -1)
                for name in ("time_start", "time_end", "time_started", "time_ended")
            },
        }
        yield self._record("sessions", str(session_id), owner, doc, session_fields(doc))


ACTION_BODY = frozenset({"freezer_action", "max_retries", "max_retries_interval", "mandatory"})


def index_hits(url: str, index: str, page: int = PAGE, timeout: float = 60) -> Iterator[Document]:
    """Every hit of ``index`` at ``url``, by scroll pages, in index order."""
    base = url.rstrip("/")
    session = requests.Session()
    query: Document = {"size": page, "sort": ["_doc"], "query": {"match_all": {}}}
    answer = session.post(
        f"{base}/{index}/_search", params={"scroll": SCROLL}, json=query, timeout=timeout
    )
    if answer.status_code == 400:
        # NOTE: Elasticsearch 1.x sorts by no "_doc"
        del query["sort"]
        answer = session.post(
            f"{base}/{index}/_search", params={"scroll": SCROLL}, json=query, timeout=timeout
        )
    _checked(answer, f"{base}/{index}")
    scroll_id = None
    try:
        while True:
            body = answer.json()
            scroll_id = body.get("_scroll_id") or scroll_id
            hits = body.get("hits", {}).get("hits", [])
            if not hits:
                return
            yield from hits
            answer = session.post(
                f"{base}/_search/scroll",
                json={"scroll": SCROLL, "scroll_id": scroll_id},
                timeout=timeout,
            )
            if answer.status_code == 400:
                # NOTE: Elasticsearch 1.x takes the scroll id as the whole body
                answer = session.post(
                    f"{base}/_search/scroll",
                    params={"scroll": SCROLL},
                    data=scroll_id,
                    timeout=timeout,
                )
            _checked(answer, f"{base}/_search/scroll")
    finally:
        if scroll_id:
            session.delete(
                f"{base}/_search/scroll", json={"scroll_id": [scroll_id]}, timeout=timeout
            )


def _checked(answer: requests.Response, where: str) -> None:
    if answer.status_code != 200:
        raise ValueError(f"{where} answered {answer.status_code}: {answer.text[:300]}")


def dump_hits(lines: IO[str]) -> Iterator[Document]:
    """The hits of a dump file: elasticdump's lines (``_source`` and its metadata), or one
    document per line (its kind told by its fields)."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as error:
            raise ValueError(f"line {number}: not JSON: {error}") from None
        if not isinstance(item, dict):
            raise ValueError(f"line {number}: not a JSON object")
        yield item if "_source" in item else {"_source": item}
