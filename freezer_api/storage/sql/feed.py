# SPDX-License-Identifier: Apache-2.0
"""The change feed's writing side: events written in their change's transaction, in commit
order (``events`` reads them).

A repository notes each change on its connection (``note``); the transaction writes the
notes as its last statements before it commits (``feeding``), so that a change and its
event are committed together or not at all.

NOTE: on PostgreSQL and MariaDB an auto-increment (or a sequence) is handed out when a row
is inserted, not when its transaction commits: with writers A and B, B may commit event 11
while A's event 10 is still to come, and a reader who saw 11 would never ask for 10. Each
transaction therefore takes its numbers from the one ``event_head`` row, last, and holds
its lock until it has committed: the next one gets the following numbers, and is visible
only after. SQLite has one writer at a time (a group commit is one transaction):
``AUTOINCREMENT`` numbers are already in commit order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, select, update

from freezer_api.context import acting_user
from freezer_api.storage.sql import commit, prepared
from freezer_api.storage.sql.models import Event, EventHead

EVENTS: Table = Event.__table__  # type: ignore[assignment]
HEAD: Table = EventHead.__table__  # type: ignore[assignment]
#: the connection's notes of the open transaction (``Connection.info`` outlives it: cleared)
NOTES = "freezer_api.events"


@dataclasses.dataclass(frozen=True, slots=True)
class Note:
    kind: str
    doc_id: str
    project_id: str
    operation: str
    version: int


def note(connection: Connection, note: Note) -> None:
    """Note a change made in ``connection``'s transaction, for ``feeding`` to write."""
    notes: list[Note] | None = connection.info.get(NOTES)
    if notes is None:
        raise RuntimeError("a change was made outside of a feeding transaction")
    notes.append(note)


@contextlib.contextmanager
def feeding(transactions: commit.Transactions) -> Iterator[Connection]:
    """A write transaction whose noted changes are written as events before it commits."""
    with transactions.transaction() as connection:
        connection.info[NOTES] = []
        try:
            yield connection
            notes = connection.info[NOTES]
            if notes:
                write(connection, notes, acting_user())
        finally:
            connection.info.pop(NOTES, None)


def write(connection: Connection, notes: list[Note], user_id: str | None) -> None:
    """Write the events of ``notes``, by ``user_id`` (None: the server), numbered after
    every event committed before: the last statements of their transaction, whose commit
    must follow."""
    now = int(time.time())
    engine = connection.engine
    statements = _statements(engine)
    driver_connection = connection.connection
    rows = [
        {
            "kind": item.kind,
            "doc_id": item.doc_id,
            "project_id": item.project_id,
            "operation": item.operation,
            "version": item.version,
            "time": now,
            "user_id": user_id,
        }
        for item in notes
    ]
    dialect = connection.dialect.name
    if dialect != "sqlite" and len(rows) == 1:
        # PERF: one event (most writes) takes its number in the statement that adds it
        # (PostgreSQL), or in one statement before it (MariaDB): a round trip less
        taking = statements.get(("take and add", dialect), lambda: _taking_and_adding(dialect))
        if dialect == "postgresql":
            prepared.execute(engine, taking, rows[0], driver_connection)
            return
        prepared.execute(engine, taking, {"count": 1}, driver_connection)
        adding = statements.get("add taken", _adding_taken)
        prepared.execute(engine, adding, rows[0], driver_connection)
        return
    numbered = dialect != "sqlite"
    if numbered:
        last = _take(engine, statements, driver_connection, len(rows))
        for offset, row in enumerate(rows):
            row["seq"] = last - len(rows) + 1 + offset
    adding = statements.get(("add event", numbered), lambda: _adding(numbered))
    for row in rows:
        prepared.execute(engine, adding, row, driver_connection)


EVENT_COLUMNS = ("kind", "doc_id", "project_id", "operation", "version", "time", "user_id")


def _taking() -> Any:
    return update(HEAD).where(HEAD.c.id == 1).values(seq=HEAD.c.seq + bindparam("count"))


def _take(engine: Engine, statements: prepared.Statements, connection: Any, count: int) -> int:
    """Move the head's counter on by ``count`` (locking it until the commit); its new value."""
    if engine.dialect.update_returning:
        returning = statements.get("take returning", lambda: _taking().returning(HEAD.c.seq))
        return int(prepared.fetch(engine, returning, {"count": count}, connection)[0][0])
    prepared.execute(engine, statements.get("take", _taking), {"count": count}, connection)
    head = statements.get("head", lambda: select(HEAD.c.seq).where(HEAD.c.id == 1))
    return int(prepared.fetch(engine, head, {}, connection)[0][0])


def _taking_and_adding(dialect: str) -> Any:
    """PostgreSQL: ``WITH head AS (UPDATE event_head ... RETURNING seq) INSERT INTO events
    SELECT head.seq, ... FROM head``. MariaDB: the head's new value kept as the
    connection's ``LAST_INSERT_ID()`` for the insert that follows (``_adding_taken``)."""
    if dialect != "postgresql":
        taken = func.last_insert_id(HEAD.c.seq + bindparam("count"))
        return update(HEAD).where(HEAD.c.id == 1).values(seq=taken)
    head = (
        update(HEAD)
        .where(HEAD.c.id == 1)
        .values(seq=HEAD.c.seq + 1)
        .returning(HEAD.c.seq)
        .cte("head")
    )
    columns = [EVENTS.c[name] for name in EVENT_COLUMNS]
    values = [
        bindparam(name, type_=column.type)
        for name, column in zip(EVENT_COLUMNS, columns, strict=True)
    ]
    return insert(EVENTS).from_select([EVENTS.c.seq, *columns], select(head.c.seq, *values))


def _adding_taken() -> Any:
    """MariaDB: add the event numbered by the ``LAST_INSERT_ID()`` its head update set."""
    return insert(EVENTS).values(
        {"seq": func.last_insert_id(), **{name: bindparam(name) for name in EVENT_COLUMNS}}
    )


def _adding(numbered: bool) -> Any:
    names = [*EVENT_COLUMNS, *(["seq"] if numbered else [])]
    return insert(EVENTS).values({name: bindparam(name) for name in names})


#: PERF: the feed's statements, compiled once per engine (each write runs two or three)
_PREPARED: weakref.WeakKeyDictionary[Engine, prepared.Statements] = weakref.WeakKeyDictionary()
_PREPARED_LOCK = threading.Lock()


def _statements(engine: Engine) -> prepared.Statements:
    found = _PREPARED.get(engine)
    if found is None:
        with _PREPARED_LOCK:
            found = _PREPARED.get(engine)
            if found is None:
                found = _PREPARED[engine] = prepared.Statements(engine)
    return found
