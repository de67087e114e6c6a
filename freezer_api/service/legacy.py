# SPDX-License-Identifier: Apache-2.0
"""Turning a freezer-api 19.0.0 catalogue (its SQL rows) into this service's records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from freezer_api.service.actions import action_document, action_fields
from freezer_api.service.backups import index_fields
from freezer_api.service.clients import ClientRules
from freezer_api.service.jobs import job_fields
from freezer_api.service.schemas import CAPABILITIES
from freezer_api.service.sessions import session_fields
from freezer_api.storage.base import Document

#: the live rows of a freezer-api 19.0.0 table, streamed: ``rows("backups")``
Rows = Callable[[str], Iterable[dict[str, Any]]]


def _record(
    kind: str, row: dict[str, Any], doc_id: str, doc: Document, fields: Document
) -> Document:
    return {
        "kind": kind,
        "doc_id": doc_id,
        "project_id": row.get("project_id") or "",
        "user_id": row.get("user_id") or "",
        "version": 1,
        "created_at": row["created_at"].isoformat() if row.get("created_at") else None,
        "updated_at": row["updated_at"].isoformat() if row.get("updated_at") else None,
        "doc": doc,
        "fields": fields,
    }


def _backups(rows: Rows) -> Iterator[Document]:
    for row in rows("backups"):
        metadata = row.get("backup_metadata") or {}
        status = row.get("status") or "available"
        doc = {"status": status, "backup_metadata": metadata}
        yield _record("backups", row, row["id"], doc, index_fields(metadata, status))


def _clients(rows: Rows) -> Iterator[Document]:
    for row in rows("clients"):
        client = {
            "client_id": row["client_id"],
            "hostname": row.get("hostname"),
            "description": row.get("description") or "",
            "uuid": row.get("uuid") or row["id"],
            "is_central": bool(row.get("is_central")),
            **{name: row.get(name) or list(values) for name, values in CAPABILITIES.items()},
        }
        fields = ClientRules.fields(client)
        yield _record("clients", row, row["client_id"], {"client": client}, fields)


def _actions(rows: Rows) -> Iterator[Document]:
    for row in rows("actions"):
        freezer_action = dict(row.get("backup_metadata") or {})
        body = {
            "freezer_action": freezer_action,
            "max_retries": row.get("max_retries"),
            "max_retries_interval": row.get("max_retries_interval"),
            "mandatory": bool(row.get("mandatory") or freezer_action.get("mandatory")),
        }
        doc = action_document({key: value for key, value in body.items() if value is not None})
        yield _record("actions", row, row["id"], doc, action_fields(doc))


def _jobs(rows: Rows) -> Iterator[Document]:
    # NOTE: what jobs refer to is kept in memory: a few rows per job, not per backup
    steps: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for link in rows("job_actions"):
        steps[link["job_id"]].append(link)
    mandatory = {row["id"]: bool(row.get("mandatory")) for row in rows("actions")}
    credentials = {row["job_id"]: row for row in rows("user_credentials")}
    for row in rows("jobs"):
        ordered = sorted(steps[row["id"]], key=lambda link: link.get("position") or 0)
        doc: Document = {
            "job_schedule": row.get("schedule") or {},
            "client_id": row["client_id"],
            "session_id": row.get("session_id") or "",
            "session_tag": row.get("session_tag") or 0,
            "description": row.get("description") or "",
            "job_actions": [
                {
                    "action_id": link["action_id"],
                    "mandatory": mandatory.get(link["action_id"], False),
                }
                for link in ordered
            ],
        }
        if row["id"] in credentials:
            trust = credentials[row["id"]]
            doc["user_credentials"] = {
                "trust_id": trust["trust_id"],
                "trustor_user_id": trust["trustor_user_id"],
            }
        yield _record("jobs", row, row["id"], doc, job_fields(doc))


def _sessions(rows: Rows) -> Iterator[Document]:
    for row in rows("sessions"):
        doc = {
            "description": row.get("description") or "",
            "hold_off": row.get("hold_off") if row.get("hold_off") is not None else 30,
            "schedule": row.get("schedule") or {},
            "session_tag": row.get("session_tag") or 0,
            "status": row.get("status") or "active",
            "result": row.get("result"),
            "jobs": row.get("job") or {},
            **{
                name: row.get(name) if row.get(name) is not None else -1
                for name in ("time_start", "time_end", "time_started", "time_ended")
            },
        }
        yield _record("sessions", row, row["id"], doc, session_fields(doc))


def legacy_records(rows: Rows) -> Iterator[Document]:
    """Yield, in this service's export format, every record of a 19.0.0 catalogue."""
    for convert in (_backups, _clients, _actions, _jobs, _sessions):
        yield from convert(rows)
