# SPDX-License-Identifier: Apache-2.0
"""Moving a whole catalogue between databases as JSON lines, one record a line.

Each line is ``{"kind", "doc_id", "project_id", "user_id", "version", "created_at",
"updated_at", "doc", "fields"}``; the format does not depend on the engine, so a site
can move from SQLite to PostgreSQL or MariaDB with two commands.
"""

from __future__ import annotations

import contextlib
import datetime
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, Table, exc, insert, select

from freezer_api import jsonfast
from freezer_api.errors import Conflict, FreezerError
from freezer_api.storage.base import name_key, set_key
from freezer_api.storage.sql import engine as engines
from freezer_api.storage.sql import feed
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
    fields = dict(record.get("fields", {}))
    if kind == "backups":
        # NOTE: derived from the names, whatever the export (older ones have none)
        host, name = fields.get("hostname"), fields.get("backup_name")
        fields["set_key"] = set_key(host, name, fields.get("container"))
        fields["name_key"] = name_key(host, name)
    return {
        **{name: record[name] for name in CORE if name != "version"},
        "version": int(record.get("version", 1)),
        "created_at": _time(record.get("created_at")) or now,
        "updated_at": _time(record.get("updated_at")) or now,
        **fields,
    }


def _time(value: Any) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value else None


def import_records(
    engine: Engine,
    records: Iterable[dict[str, Any]],
    *,
    dry_run: bool = False,
    batch_size: int | None = None,
    skip_existing: bool = False,
) -> Counter[str]:
    """Insert every record in one transaction: all of them, or none on any error.

    With ``dry_run`` everything is checked and inserted, then rolled back. With
    ``batch_size``, every that many records are committed on their own (for a Galera
    cluster, whose writeset limit bounds a transaction, and which applies a big one on
    every node at once); an error then leaves the batches before it, and says so. With
    ``skip_existing``, records whose id is already stored are left out (counted as
    ``skipped``), so that such an import can be run again. Raises ``Conflict`` naming a
    record that already exists, ``ValueError`` on a malformed one or on a transaction
    beyond the cluster's writeset limit.
    """
    with translated_errors("record"), engines.writer(engine).connect() as connection:
        load = _Import(connection, dry_run=dry_run, batch_size=batch_size)
        load.skip_existing = skip_existing
        try:
            for record in records:
                load.add(record)
            load.finish()
        except BaseException as error:
            load.abandon()
            explained = _explained(engine, error, load.committed)
            if explained is None:
                raise
            raise explained from None
    if not dry_run:
        _analyze(engine)
    return load.counts


class _Import:
    """The records of an import waiting for their insert, and the transaction they go in."""

    def __init__(self, connection: Connection, *, dry_run: bool, batch_size: int | None) -> None:
        self.counts: Counter[str] = Counter()
        #: what the batches committed so far hold
        self.committed: Counter[str] = Counter()
        self.skip_existing = False
        self._connection = connection
        self._dry_run = dry_run
        self._batch_size = None if dry_run else batch_size
        self._pending: dict[str, list[dict[str, Any]]] = {kind: [] for kind in TABLES}
        self._in_batch = 0
        #: the events of the records inserted in the open transaction, written before it ends
        self._notes: list[feed.Note] = []
        self._transaction = connection.begin()

    def add(self, record: dict[str, Any]) -> None:
        kind = record.get("kind")
        if kind not in TABLES:
            raise ValueError(f"unknown record kind {kind!r}")
        try:
            self._pending[kind].append(_row(kind, record))
        except (KeyError, TypeError) as error:
            raise ValueError(f"a {kind} record lacks {error}") from None
        if len(self._pending[kind]) >= BATCH:
            self._flush(kind)
        self._in_batch += 1
        if self._batch_size and self._in_batch >= self._batch_size:
            self._commit()
            self._transaction = self._connection.begin()
            self._in_batch = 0

    def finish(self) -> None:
        if self._dry_run:
            for kind in TABLES:
                self._flush(kind)
            self._write_events()
            self._transaction.rollback()
        else:
            self._commit()

    def abandon(self) -> None:
        if self._transaction.is_active:
            self._transaction.rollback()

    def _commit(self) -> None:
        for kind in TABLES:
            self._flush(kind)
        self._write_events()
        self._transaction.commit()
        self.committed = self.counts.copy()

    def _flush(self, kind: str) -> None:
        rows = self._pending[kind]
        if not rows:
            return
        self._pending[kind] = []
        if self.skip_existing:
            new = _new_rows(self._connection, kind, rows)
            self.counts["skipped"] += len(rows) - len(new)
            rows = new
        if rows:
            _insert(self._connection, kind, rows)
            self._notes += [
                feed.Note(kind, row["doc_id"], row["project_id"], "create", row["version"])
                for row in rows
            ]
        self.counts[kind] += len(rows)

    def _write_events(self) -> None:
        """The change feed's events of the transaction's records, last: on PostgreSQL and
        MariaDB the event counter is then locked only while the transaction ends."""
        for start in range(0, len(self._notes), BATCH):
            feed.write(self._connection, self._notes[start : start + BATCH], None)
        self._notes = []


def _explained(engine: Engine, error: BaseException, committed: Counter[str]) -> Exception | None:
    """What to raise instead of ``error``, saying what to do; None to raise it as it is."""
    if isinstance(error, exc.DBAPIError) and _beyond_writeset_limit(error):
        return ValueError(_writeset_advice(engine, committed))
    if committed and isinstance(error, (ValueError, FreezerError)):
        return ValueError(f"{error}; {_left(committed)}")
    return None


def _new_rows(
    connection: Connection, kind: str, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    table = TABLES[kind]
    ids = [row["doc_id"] for row in rows]
    stored = set(
        connection.execute(select(table.c.doc_id).where(table.c.doc_id.in_(ids))).scalars()
    )
    return [row for row in rows if row["doc_id"] not in stored]


def _left(committed: Counter[str]) -> str:
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(committed.items()))
    return (
        f"the batches before it were committed and stay ({summary}): run the import again "
        "with --skip-existing to go on from there"
    )


#: what MariaDB says when a transaction is beyond Galera's writeset limits
WRITESET_LIMIT_MESSAGES = ("wsrep_max_ws_rows", "wsrep_max_ws_size", "Maximum writeset size")


def _beyond_writeset_limit(error: exc.DBAPIError) -> bool:
    said = " ".join(str(argument) for argument in getattr(error.orig, "args", ()))
    return any(message in said for message in WRITESET_LIMIT_MESSAGES)


def _writeset_advice(engine: Engine, committed: Counter[str]) -> str:
    limits = "wsrep_max_ws_rows and wsrep_max_ws_size"
    with contextlib.suppress(exc.DBAPIError), engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SHOW VARIABLES WHERE Variable_name IN ('wsrep_max_ws_rows', 'wsrep_max_ws_size')"
        ).all()
        limits = ", ".join(f"{name} = {value}" for name, value in sorted(rows))
    said = (
        f"the import is larger than the Galera cluster allows one transaction ({limits}): "
        "import it with --batch-size N (N records a transaction: 2N + 1 rows, each record "
        "and its event, under that limit; 1000 keeps replication smooth), or raise the limit "
        "for the import"
    )
    if committed:
        return f"{said}; {_left(committed)}"
    return f"{said}; nothing was imported"


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
