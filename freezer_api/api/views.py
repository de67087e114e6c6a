# SPDX-License-Identifier: Apache-2.0
"""Response shapes of each kind, exactly as Freezer clients read them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from freezer_api.service.schemas import (
    BOOLEAN,
    INTEGER,
    OBJECT,
    STRING,
    Schema,
    nullable,
    shape,
)
from freezer_api.storage.base import Document, Record

Render = Callable[[Record], Document]
#: the JSON schema of what each render function answers (in the OpenAPI documents)
ANSWERS: dict[Render, Schema] = {}
#: an id or name of what a record belongs to; null in records imported without one
OWNER = nullable(STRING)


def answers(schema: Schema) -> Callable[[Render], Render]:
    """Declare the JSON schema of what a render function answers."""

    def declare(render: Render) -> Render:
        ANSWERS[render] = schema
        return render

    return declare


#: freezer_action keys every action response carries (null when unset).
ACTION_DEFAULT_KEYS = (
    "backup_name",
    "action",
    "mode",
    "container",
    "timeout",
    "priority",
    "path_to_backup",
    "log_file",
)


@answers(
    shape(
        {
            "backup_id": STRING,
            "user_id": OWNER,
            "user_name": OWNER,
            "backup_metadata": OBJECT,
        }
    )
)
def v1_backup(record: Record) -> Document:
    """The seed's backup record: ``{backup_id, user_id, user_name, backup_metadata}``."""
    return {
        "backup_id": record.doc_id,
        "user_id": record.user_id,
        "user_name": record.doc.get("user_name", ""),
        "backup_metadata": record.doc["backup_metadata"],
    }


@answers(
    shape(
        {
            "backup_id": STRING,
            "user_id": OWNER,
            "project_id": OWNER,
            "status": STRING,
            "backup_metadata": OBJECT,
        }
    )
)
def backup(record: Record) -> Document:
    """Exactly five keys: tempest compares list items for equality."""
    return {
        "backup_id": record.doc_id,
        "user_id": record.user_id,
        "project_id": record.project_id,
        "status": record.doc.get("status", "available"),
        "backup_metadata": record.doc["backup_metadata"],
    }


@answers(
    shape(
        {
            "project_id": OWNER,
            "user_id": OWNER,
            "client": shape({"client_id": STRING}),
        },
        {"last_seen": nullable(INTEGER), "alive": nullable(BOOLEAN)},
    )
)
def client(record: Record) -> Document:
    return {
        "project_id": record.project_id,
        "user_id": record.user_id,
        "client": record.doc["client"],
    }


def _action_body(record: Record) -> Document:
    freezer_action: dict[str, Any] = {key: None for key in ACTION_DEFAULT_KEYS}
    freezer_action.update(record.doc["freezer_action"])
    return {
        "action_id": record.doc_id,
        "project_id": record.project_id,
        "user_id": record.user_id,
        "max_retries": record.doc.get("max_retries"),
        "max_retries_interval": record.doc.get("max_retries_interval"),
        "mandatory": record.doc.get("mandatory", False),
        "timeout": freezer_action.get("timeout"),
        "freezer_action": freezer_action,
    }


ACTION_ANSWER = shape(
    {
        "action_id": STRING,
        "project_id": OWNER,
        "user_id": OWNER,
        "max_retries": nullable(INTEGER),
        "max_retries_interval": nullable(INTEGER),
        "mandatory": BOOLEAN,
        "freezer_action": OBJECT,
    },
    {"timeout": {}},
)


@answers(ACTION_ANSWER)
def action(record: Record) -> Document:
    return _action_body(record)


@answers(
    shape(
        {
            "job_id": STRING,
            "project_id": OWNER,
            "user_id": OWNER,
            "client_id": STRING,
            "job_schedule": OBJECT,
            "job_actions": {"type": "array", "items": ACTION_ANSWER},
        },
        {
            "session_id": nullable(STRING),
            "session_tag": nullable(INTEGER),
            "description": nullable(STRING),
            "stale": BOOLEAN,
            "client_last_seen": nullable(INTEGER),
        },
    )
)
def job(record: Record) -> Document:
    """A job with its actions in full; each keeps the job's own ``mandatory`` flag."""
    document = record.doc
    job_actions = []
    for step in document["job_actions"]:
        extras = {key: value for key, value in step.items() if key not in {"action", "action_id"}}
        job_actions.append({**_action_body(step["action"]), **extras})
    rendered = {
        "job_id": record.doc_id,
        "project_id": record.project_id,
        "user_id": record.user_id,
        "client_id": document["client_id"],
        "session_id": document.get("session_id", ""),
        "session_tag": document.get("session_tag", 0),
        "description": document.get("description", ""),
        "job_schedule": document["job_schedule"],
        "job_actions": job_actions,
    }
    if "user_credentials" in document:
        rendered["user_credentials"] = document["user_credentials"]
    return rendered


def with_owner(id_key: str) -> Render:
    """The stored document whole, after its id and owner (sessions, objectives)."""

    def render(record: Record) -> Document:
        return {
            id_key: record.doc_id,
            "project_id": record.project_id,
            "user_id": record.user_id,
            **record.doc,
        }

    return render


session = answers(shape({"session_id": STRING, "project_id": OWNER, "user_id": OWNER}))(
    with_owner("session_id")
)


def id_and_version(id_key: str) -> Any:
    """The body answered to PATCH and replace of jobs, actions and sessions."""

    @answers(shape({id_key: STRING, "version": INTEGER}))
    def render(record: Record) -> Document:
        return {id_key: record.doc_id, "version": record.version}

    return render


objective = answers(
    shape(
        {
            "objective_id": STRING,
            "project_id": OWNER,
            "user_id": OWNER,
            "selector": OBJECT,
            "max_age_seconds": INTEGER,
        }
    )
)(with_owner("objective_id"))
