# SPDX-License-Identifier: Apache-2.0
"""Reading the SQL database of a freezer-api 19.0.0 deployment (its tables, as they are)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, MetaData, Table, or_, select

from freezer_api.storage.sql.store import translated_errors

LEGACY_TABLES = (
    "backups",
    "clients",
    "actions",
    "jobs",
    "job_actions",
    "sessions",
    "user_credentials",
)
#: columns holding JSON text
JSON_COLUMNS = frozenset(
    {
        "backup_metadata",
        "schedule",
        "job",
        "supported_actions",
        "supported_modes",
        "supported_storages",
        "supported_engines",
    }
)


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    decoded = dict(row)
    for name in JSON_COLUMNS & decoded.keys():
        value = decoded[name]
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if isinstance(value, str):
            decoded[name] = json.loads(value) if value else None
    return decoded


def read_legacy(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Return the live (not soft-deleted) rows of every freezer-api 19.0.0 table."""
    metadata = MetaData()
    rows: dict[str, list[dict[str, Any]]] = {}
    with translated_errors("freezer-api database"), engine.connect() as connection:
        for name in LEGACY_TABLES:
            table = Table(name, metadata, autoload_with=connection)
            statement = select(table)
            if "deleted" in table.c:
                deleted = table.c.deleted
                live = False if deleted.type.python_type is bool else 0
                statement = statement.where(or_(deleted.is_(None), deleted == live))
            if "created_at" in table.c:
                statement = statement.order_by(table.c.created_at)
            rows[name] = [_decoded(dict(row._mapping)) for row in connection.execute(statement)]
    return rows
