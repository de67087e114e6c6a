# SPDX-License-Identifier: Apache-2.0
"""Backup rules of the seed v1 API: natural ids, owner, metadata types."""

from __future__ import annotations

from typing import Any

from freezer_api.context import Identity
from freezer_api.errors import InvalidDocument
from freezer_api.service.schemas import BACKUP_V1, MAX_ID, Validator
from freezer_api.storage.base import Change, Document, Record

#: The fields that make up a seed backup_id, in order.
V1_ID_FIELDS = ("container", "host_name", "backup_name", "timestamp", "level")


def v1_backup_id(metadata: Document) -> str:
    """Return ``container_hostname_backupname_timestamp_level``."""
    return "_".join(str(metadata[field]) for field in V1_ID_FIELDS)


def v1_index_fields(metadata: Document) -> dict[str, Any]:
    """Return the indexed columns of a seed backup."""
    return {
        "container": metadata["container"],
        "hostname": metadata["host_name"],
        "backup_name": metadata["backup_name"],
        "time_stamp": metadata["timestamp"],
        "level": metadata["level"],
        "status": metadata.get("status") if isinstance(metadata.get("status"), str) else None,
        "job_id": _short_string(metadata.get("job_id")),
    }


def _short_string(value: Any) -> str | None:
    return value if isinstance(value, str) and len(value) <= MAX_ID else None


class BackupV1Rules:
    """Backups as the seed README specifies them: owned by a user, keyed by their metadata."""

    noun = "backup"

    def __init__(self) -> None:
        self._validator = Validator(BACKUP_V1, "backup metadata")

    def new_record(self, identity: Identity, body: Any) -> Record:
        metadata = self._checked(body)
        return Record(
            doc_id=v1_backup_id(metadata),
            project_id=identity.project_id,
            user_id=identity.user_id,
            doc={"user_name": identity.user_name, "backup_metadata": metadata},
            fields={"user_name": identity.user_name, **v1_index_fields(metadata)},
        )

    def patched(self, identity: Identity, record: Record, body: Any) -> Change:
        if not isinstance(body, dict) or not body:
            raise InvalidDocument(
                "A PATCH body must be a non-empty JSON object of fields to change."
            )
        return self._changed(record, {**record.doc["backup_metadata"], **body})

    def replaced(self, identity: Identity, record: Record, body: Any) -> Change:
        return self._changed(record, body)

    def _changed(self, record: Record, metadata: Any) -> Change:
        metadata = self._checked(metadata)
        new_id = v1_backup_id(metadata)
        if new_id != record.doc_id:
            raise InvalidDocument(
                f"The fields {', '.join(V1_ID_FIELDS)} form the backup_id and cannot change: "
                f"they would make it {new_id} instead of {record.doc_id}."
            )
        return Change(
            doc={**record.doc, "backup_metadata": metadata}, fields=v1_index_fields(metadata)
        )

    def _checked(self, body: Any) -> Document:
        self._validator.check(body)
        backup_id = v1_backup_id(body)
        if len(backup_id) > MAX_ID:
            raise InvalidDocument(
                f"Invalid backup metadata: the backup_id it forms is {len(backup_id)} characters "
                f"long; the limit is {MAX_ID}."
            )
        document: Document = body
        return document
