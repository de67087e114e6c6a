# SPDX-License-Identifier: Apache-2.0
"""Reading the SQL database of a freezer-api 19.0.0 deployment (its tables, as they are)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, MetaData, Table, inspect, or_, select

from freezer_api.storage.sql.store import translated_errors

BATCH = 1000
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


def legacy_rows(engine: Engine, name: str) -> Iterator[dict[str, Any]]:
    """Stream the live (not soft-deleted) rows of one freezer-api 19.0.0 table."""
    if name not in LEGACY_TABLES:
        raise ValueError(f"freezer-api 19.0.0 has no table {name}")
    with translated_errors("freezer-api database"), engine.connect() as connection:
        if not inspect(connection).has_table(name):
            raise ValueError(
                f"{engine.url.render_as_string(hide_password=True)} is not a freezer-api "
                f"19.0.0 database: it has no table {name}"
            )
        table = Table(name, MetaData(), autoload_with=connection)
        statement = select(table)
        if "deleted" in table.c:
            deleted = table.c.deleted
            live = False if deleted.type.python_type is bool else 0
            statement = statement.where(or_(deleted.is_(None), deleted == live))
        if "created_at" in table.c:
            statement = statement.order_by(table.c.created_at)
        for row in connection.execution_options(yield_per=BATCH).execute(statement):
            yield _decoded(dict(row._mapping))
