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
import time
from collections.abc import Iterator

from sqlalchemy import Connection, Table, insert, select, update

from freezer_api.context import acting_user
from freezer_api.storage.sql import commit
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
    dialect = connection.dialect
    if dialect.name != "sqlite":
        taking = update(HEAD).where(HEAD.c.id == 1).values(seq=HEAD.c.seq + len(rows))
        if dialect.update_returning:
            last = connection.execute(taking.returning(HEAD.c.seq)).scalar_one()
        else:
            connection.execute(taking)
            last = connection.execute(select(HEAD.c.seq).where(HEAD.c.id == 1)).scalar_one()
        for offset, row in enumerate(rows):
            row["seq"] = last - len(rows) + 1 + offset
    connection.execute(insert(EVENTS), rows)
