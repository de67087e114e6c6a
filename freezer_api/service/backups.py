# SPDX-License-Identifier: Apache-2.0
"""Backup rules: the seed's v1 (natural ids, owned by a user) and today's v2."""

from __future__ import annotations

import uuid
from typing import Any

from freezer_api.errors import Conflict, InvalidDocument
from freezer_api.service.chains import Chains
from freezer_api.service.documents import Call, Rules, Wiring, require_object
from freezer_api.service.schemas import BACKUP, BACKUP_PATCH, BACKUP_V1, MAX_ID, Validator
from freezer_api.service.search import SearchFields
from freezer_api.storage.base import Change, Document, Record, Storage, name_key, set_key

#: The fields that make up a seed backup_id, in order.
V1_ID_FIELDS = ("container", "host_name", "backup_name", "timestamp", "level")
#: Keys a v2 PATCH may not change.
FIXED_KEYS = frozenset({"user_id", "backup_id", "project_id"})


def v1_backup_id(metadata: Document) -> str:
    """Return ``container_hostname_backupname_timestamp_level``."""
    return "_".join(str(metadata[field]) for field in V1_ID_FIELDS)


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and len(value) <= MAX_ID else None


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def index_fields(metadata: Document, status: str | None) -> dict[str, Any]:
    """Return the indexed columns of a backup, from v1 or v2 metadata names."""
    hostname = metadata.get("hostname", metadata.get("host_name"))
    time_stamp = metadata.get("time_stamp", metadata.get("timestamp"))
    level = metadata.get("curr_backup_level", metadata.get("level"))
    container = _string(metadata.get("container"))
    host = _string(hostname)
    name = _string(metadata.get("backup_name"))
    return {
        "status": status,
        "container": container,
        "hostname": host,
        "backup_name": name,
        "time_stamp": _integer(time_stamp),
        "level": _integer(level),
        "job_id": _string(metadata.get("job_id")),
        "set_key": set_key(host, name, container),
        "name_key": name_key(host, name),
    }


BACKUP_SEARCH = SearchFields(
    columns={
        "backup_id": "doc_id",
        "user_id": "user_id",
        "status": "status",
        "container": "container",
        "hostname": "hostname",
        "host_name": "hostname",
        "backup_name": "backup_name",
        "time_stamp": "time_stamp",
        "timestamp": "time_stamp",
        "curr_backup_level": "level",
        "level": "level",
        "job_id": "job_id",
    },
    path_of=lambda key: ("backup_metadata", key),
    text=("backup_name", "hostname", "container", "doc_id"),
    sortable={
        "backup_id": "doc_id",
        "time_stamp": "time_stamp",
        "timestamp": "time_stamp",
        "backup_name": "backup_name",
        "hostname": "hostname",
        "host_name": "hostname",
        "container": "container",
    },
)


class BackupV1Rules(Rules):
    """Backups as the seed README specifies them: owned by a user, keyed by their metadata."""

    plural = "backups"
    noun = "backup"
    search_fields = BACKUP_SEARCH
    creates_alone = True
    schema = BACKUP_V1

    def __init__(self) -> None:
        self._validator = Validator(self.schema, "backup metadata")

    def new_record(self, call: Call, storage: Storage, body: Any, doc_id: str | None) -> Record:
        metadata = self._checked(body)
        user_name = call.identity.user_name
        return call.new_record(
            v1_backup_id(metadata),
            {"user_name": user_name, "backup_metadata": metadata},
            {"user_name": user_name, **index_fields(metadata, None)},
        )

    def patched(self, call: Call, storage: Storage, record: Record, body: Any) -> Change:
        body = require_object(body, "A PATCH body")
        return self._changed(record, {**record.doc["backup_metadata"], **body})

    def replaced(self, call: Call, storage: Storage, record: Record, body: Any) -> Change:
        return self._changed(record, body)

    def _changed(self, record: Record, metadata: Any) -> Change:
        metadata = self._checked(metadata)
        new_id = v1_backup_id(metadata)
        if new_id != record.doc_id:
            raise InvalidDocument(
                f"The fields {', '.join(V1_ID_FIELDS)} form the backup_id and cannot change: "
                f"they would make it {new_id} instead of {record.doc_id}."
            )
        status = record.doc.get("status")
        return Change(
            doc={**record.doc, "backup_metadata": metadata},
            fields=index_fields(metadata, status),
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


class BackupRules(Rules):
    """v2 backups: a generated id, a status beside the metadata, owned by a project."""

    plural = "backups"
    noun = "backup"
    search_fields = BACKUP_SEARCH
    creates_alone = True
    schema = BACKUP
    patch_schema = BACKUP_PATCH

    def __init__(self, protect_chains: bool = False) -> None:
        self._validator = Validator(self.schema, "backup")
        self._patch_validator = Validator(BACKUP_PATCH, "backup update")
        self._protect_chains = protect_chains

    @classmethod
    def build(cls, wiring: Wiring) -> Rules:
        return cls(wiring.protect_chains)

    def deleting(self, call: Call, storage: Storage, record: Record, *, cascade: bool) -> None:
        """With ``cascade``, delete the backups whose chains need this one; else, with
        ``[api] protect_chains``, refuse (409) to break their chains."""
        if not (cascade or self._protect_chains) or call.scope.project_id is None:
            return
        project_id = call.scope.project_id
        located = storage.backup_sets.backup(project_id=project_id, backup_id=record.doc_id)
        if located is None:
            return
        key, backup = located
        dependents = Chains(storage.backup_sets, project_id).dependents(key, backup)
        if not dependents:
            return
        if not cascade:
            shown = ", ".join(each.backup_id for each in dependents[:10])
            more = f" and {len(dependents) - 10} more" if len(dependents) > 10 else ""
            raise Conflict(
                f"The chains of {len(dependents)} backups need backup {record.doc_id} "
                f"({shown}{more}): delete them first, or delete with ?cascade=true to delete "
                "them with it."
            )
        for each in dependents:
            storage.backups.delete(scope=call.scope, doc_id=each.backup_id)

    def new_record(self, call: Call, storage: Storage, body: Any, doc_id: str | None) -> Record:
        metadata = dict(require_object(body, "A backup"))
        self._validator.check(metadata)
        status = metadata.pop("status", "available")
        return call.new_record(
            doc_id or uuid.uuid4().hex,
            {"status": status, "backup_metadata": metadata},
            index_fields(metadata, status),
        )

    def patched(self, call: Call, storage: Storage, record: Record, body: Any) -> Change:
        """Merge ``backup_metadata`` and flat keys (the scheduler sends those) into the metadata."""
        body = require_object(body, "A PATCH body")
        self._patch_validator.check(body)
        changes = {key: value for key, value in body.items() if key not in FIXED_KEYS}
        status = changes.pop("status", record.doc.get("status", "available"))
        metadata = {**record.doc["backup_metadata"], **changes.pop("backup_metadata", {})}
        metadata.update(changes)
        metadata.pop("status", None)
        self._validator.check({**metadata, "status": status})
        return Change(
            doc={**record.doc, "status": status, "backup_metadata": metadata},
            fields=index_fields(metadata, status),
        )
