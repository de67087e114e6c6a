# SPDX-License-Identifier: Apache-2.0
"""Action rules: one step of a job (a backup, a restore...), reusable across jobs."""

from __future__ import annotations

import uuid
from typing import Any

from freezer_api.errors import Conflict, InvalidDocument
from freezer_api.service.documents import Call, Rules, require_object
from freezer_api.service.schemas import ACTION, FREEZER_ACTION, Validator
from freezer_api.service.search import SearchFields
from freezer_api.storage.base import Change, Document, Record, Storage

DEFAULT_MAX_RETRIES = 5
DEFAULT_MAX_RETRIES_INTERVAL = 6
#: Top-level keys of an action besides its freezer_action.
ACTION_KEYS = ("max_retries", "max_retries_interval", "mandatory")


def action_document(body: Document, previous: Document | None = None) -> Document:
    """Return the stored form of an action: its freezer_action and retry settings."""
    previous = previous or {}
    freezer_action: Document = dict(
        body.get("freezer_action") or previous.get("freezer_action") or {}
    )
    mandatory = body.get(
        "mandatory", freezer_action.get("mandatory", previous.get("mandatory", False))
    )
    return {
        "freezer_action": freezer_action,
        "max_retries": body.get("max_retries", previous.get("max_retries", DEFAULT_MAX_RETRIES)),
        "max_retries_interval": body.get(
            "max_retries_interval",
            previous.get("max_retries_interval", DEFAULT_MAX_RETRIES_INTERVAL),
        ),
        "mandatory": bool(mandatory),
    }


def action_fields(document: Document) -> dict[str, Any]:
    freezer_action = document["freezer_action"]

    def string(key: str) -> str | None:
        value = freezer_action.get(key)
        return value if isinstance(value, str) else None

    return {
        "action": string("action"),
        "mode": string("mode"),
        "backup_name": string("backup_name"),
    }


def new_action(call: Call, storage: Storage, action_id: str | None, body: Document) -> Record:
    """Return the record of a new action. Raises Conflict: an action id is unique everywhere."""
    action_id = action_id or uuid.uuid4().hex
    if storage.actions.exists(doc_id=action_id):
        raise Conflict(f"Action already registered with ID {action_id}")
    document = action_document(body)
    return call.new_record(action_id, document, action_fields(document))


def same_definition(given: Document, stored: Document) -> bool:
    """Compare two freezer_actions, treating absent and null keys alike."""

    def meaningful(action: Document) -> Document:
        return {key: value for key, value in action.items() if value is not None}

    return meaningful(given) == meaningful(stored)


class ActionRules(Rules):
    """Actions have a client-chosen or generated id, unique across all projects."""

    plural = "actions"
    noun = "action"
    replace_creates = True
    schema = ACTION
    search_fields = SearchFields(
        columns={
            "action_id": "doc_id",
            "action": "action",
            "mode": "mode",
            "backup_name": "backup_name",
            "user_id": "user_id",
        },
        path_of=lambda key: (key,) if key in ACTION_KEYS else ("freezer_action", key),
        text=("doc_id", "backup_name"),
        sortable={"action_id": "doc_id", "backup_name": "backup_name"},
    )

    def __init__(self) -> None:
        self._validator = Validator(self.schema, "action")
        self._freezer_action = Validator(FREEZER_ACTION, "freezer_action")

    def new_record(self, call: Call, storage: Storage, body: Any, doc_id: str | None) -> Record:
        body = require_object(body, "An action")
        self._validator.check(body)
        return new_action(call, storage, doc_id or body.get("action_id"), body)

    def patched(self, call: Call, storage: Storage, record: Record, body: Any) -> Change:
        body = require_object(body, "A PATCH body")
        given = body.get("freezer_action", {})
        if not isinstance(given, dict):
            raise InvalidDocument("Invalid action: freezer_action: must be of type object")
        merged = {
            **{key: body[key] for key in ACTION_KEYS if key in body},
            "freezer_action": {**record.doc["freezer_action"], **given},
        }
        self._validator.check(merged)
        document = action_document(merged, record.doc)
        return Change(doc=document, fields=action_fields(document))

    def replaced(self, call: Call, storage: Storage, record: Record, body: Any) -> Change:
        body = require_object(body, "An action")
        self._validator.check(body)
        document = action_document(body)
        return Change(doc=document, fields=action_fields(document))
