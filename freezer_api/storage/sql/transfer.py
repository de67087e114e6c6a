# SPDX-License-Identifier: Apache-2.0
"""Moving a whole catalogue between databases as JSON lines, one record a line.

Each line is ``{"kind", "doc_id", "project_id", "user_id", "version", "created_at",
"updated_at", "doc", "fields"}``; the format does not depend on the engine, so a site
can move from SQLite to PostgreSQL or MariaDB with two commands.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, Table, exc, insert, select

from freezer_api import jsonfast
from freezer_api.errors import Conflict
from freezer_api.storage.sql import engine as engines
from freezer_api.storage.sql.models import TABLES, field_names
from freezer_api.storage.sql.store import translated_errors

CORE = ("doc_id", "project_id", "user_id", "version", "doc")
BATCH = 1000


def _field_names(kind: str) -> list[str]:
    return field_names(TABLES[kind])


def export_records(engine: Engine) -> Iterator[dict[str, Any]]:
    """Yield every record of every kind, oldest first, streaming from the database.

    All tables are read in one transaction, so the export is one consistent snapshot:
    REPEATABLE READ on PostgreSQL and MariaDB/MySQL, one read transaction (which WAL
    keeps at its first read) on SQLite. Writers go on meanwhile.
    """
    snapshot = (
        {"sqlite_begin": "DEFERRED"}
        if engine.dialect.name == "sqlite"
        else {"isolation_level": "REPEATABLE READ"}
    )
    with translated_errors("record"), engine.connect() as connection:
        reader = connection.execution_options(**snapshot)
        with reader.begin():
            for kind, table in TABLES.items():
                yield from _exported(reader, kind, table)


def _exported(connection: Connection, kind: str, table: Table) -> Iterator[dict[str, Any]]:
    fields = _field_names(kind)
    rows = connection.execution_options(yield_per=BATCH).execute(select(table).order_by(table.c.pk))
    for row in rows:
        mapping = row._mapping
        yield {
            "kind": kind,
            **{name: mapping[name] for name in CORE},
            "created_at": mapping["created_at"].isoformat(),
            "updated_at": mapping["updated_at"].isoformat(),
            "fields": {name: mapping[name] for name in fields},
        }


def _row(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    unknown = set(record.get("fields", {})) - set(_field_names(kind))
    if unknown:
        raise ValueError(f"{kind} records have no fields {sorted(unknown)}")
    unstorable = jsonfast.unstorable(record)
    if unstorable is not None:
        raise ValueError(
            f"the {kind} record {record.get('doc_id')!r} holds {unstorable} in a string; "
            "the API refuses such text, and not every engine can store it"
        )
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    return {
        **{name: record[name] for name in CORE if name != "version"},
        "version": int(record.get("version", 1)),
        "created_at": _time(record.get("created_at")) or now,
        "updated_at": _time(record.get("updated_at")) or now,
        **record.get("fields", {}),
    }


def _time(value: Any) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value else None


def import_records(
    engine: Engine, records: Iterable[dict[str, Any]], *, dry_run: bool = False
) -> Counter[str]:
    """Insert every record in one transaction: all of them, or none on any error.

    With ``dry_run`` everything is checked and inserted, then rolled back. Raises
    ``Conflict`` naming a record that already exists, ``ValueError`` on a malformed one.
    """
    counts: Counter[str] = Counter()
    pending: dict[str, list[dict[str, Any]]] = {kind: [] for kind in TABLES}
    with translated_errors("record"), engines.writer(engine).connect() as connection:
        transaction = connection.begin()

        def flush(kind: str) -> None:
            if pending[kind]:
                _insert(connection, kind, pending[kind])
                counts[kind] += len(pending[kind])
                pending[kind] = []

        try:
            for record in records:
                kind = record.get("kind")
                if kind not in TABLES:
                    raise ValueError(f"unknown record kind {kind!r}")
                try:
                    pending[kind].append(_row(kind, record))
                except (KeyError, TypeError) as error:
                    raise ValueError(f"a {kind} record lacks {error}") from None
                if len(pending[kind]) >= BATCH:
                    flush(kind)
            for kind in TABLES:
                flush(kind)
        except BaseException:
            transaction.rollback()
            raise
        if dry_run:
            transaction.rollback()
            return counts
        transaction.commit()
    _analyze(engine)
    return counts


def _insert(connection: Connection, kind: str, rows: list[dict[str, Any]]) -> None:
    """Insert a batch; on a duplicate, name a record of the batch that already exists."""
    table = TABLES[kind]
    savepoint = connection.begin_nested()
    try:
        connection.execute(insert(table), rows)
    except exc.IntegrityError:
        savepoint.rollback()
        ids = [row["doc_id"] for row in rows]
        found = connection.execute(
            select(table.c.doc_id).where(table.c.doc_id.in_(ids)).limit(1)
        ).scalar()
        twice = next((doc_id for doc_id, seen in Counter(ids).items() if seen > 1), None)
        raise Conflict(
            f"the {kind} record {found or twice} already exists"
            + (" in the database" if found else " twice in the input")
        ) from None
    savepoint.commit()


def _analyze(engine: Engine) -> None:
    """Give the planner statistics of the imported tables now, not at the next autovacuum.

    SQLite's queries are written for a database without statistics, and keep none.
    """
    tables = ", ".join(TABLES)
    statement = {
        "postgresql": f"ANALYZE {tables}",
        "mysql": f"ANALYZE TABLE {tables}",
        "mariadb": f"ANALYZE TABLE {tables}",
    }.get(engine.dialect.name)
    if statement is not None:
        with translated_errors("record"), engine.connect() as connection:
            connection.exec_driver_sql(statement).close()
            connection.commit()
