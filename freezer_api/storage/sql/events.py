# SPDX-License-Identifier: Apache-2.0
"""The change feed on SQL, read (``feed`` writes it) and purged."""

from __future__ import annotations

from sqlalchemy import Engine, delete, func, select, update

from freezer_api.storage.base import CursorPurged, Event
from freezer_api.storage.sql import commit
from freezer_api.storage.sql.feed import EVENTS, HEAD
from freezer_api.storage.sql.store import reading, translated_errors

#: most events one purge statement deletes
PURGE_BATCH = 10_000
_COLUMNS = (
    EVENTS.c.seq,
    EVENTS.c.kind,
    EVENTS.c.doc_id,
    EVENTS.c.operation,
    EVENTS.c.version,
    EVENTS.c.time,
    EVENTS.c.user_id,
    EVENTS.c.project_id,
)


class SqlEvents:
    """``storage.base.Events`` over the events table."""

    def __init__(self, engine: Engine, transactions: commit.Transactions) -> None:
        self._engine = engine
        self._transactions = transactions

    def page(self, *, project_id: str | None, since: int | None, limit: int) -> list[Event]:
        conditions = []
        if project_id is not None:
            conditions.append(EVENTS.c.project_id == project_id)
        if since is not None:
            conditions.append(EVENTS.c.seq > since)
        statement = select(*_COLUMNS).where(*conditions).order_by(EVENTS.c.seq).limit(limit)
        with translated_errors("event"), reading(self._engine, None) as connection:
            if since is not None:
                purged = connection.execute(select(HEAD.c.purged)).scalar_one()
                if since < purged:
                    raise CursorPurged(
                        f"The events up to {purged} were purged; cursor {since} is older."
                    )
            rows = connection.execute(statement).all()
        return [Event(*row) for row in rows]

    def latest(self, *, project_id: str | None, before: int | None, limit: int) -> list[Event]:
        conditions = [] if project_id is None else [EVENTS.c.project_id == project_id]
        if before is not None:
            conditions.append(EVENTS.c.seq < before)
        statement = select(*_COLUMNS).where(*conditions).order_by(EVENTS.c.seq.desc()).limit(limit)
        with translated_errors("event"), reading(self._engine, None) as connection:
            rows = connection.execute(statement).all()
        return [Event(*row) for row in rows]

    def purged(self) -> int:
        with translated_errors("event"), reading(self._engine, None) as connection:
            purged: int = connection.execute(select(HEAD.c.purged)).scalar_one()
        return purged

    def purge(self, *, before: int) -> int:
        """Delete the events older than ``before`` (seconds since the epoch), oldest first, in
        batches; return how many."""
        with translated_errors("event"), reading(self._engine, None) as connection:
            upto = connection.execute(
                select(func.max(EVENTS.c.seq)).where(EVENTS.c.time < before)
            ).scalar()
        if upto is None:
            return 0
        deleted = 0
        while True:
            with translated_errors("event"), self._transactions.transaction() as connection:
                first = connection.execute(select(func.min(EVENTS.c.seq))).scalar()
                if first is None or first > upto:
                    break
                end = min(upto, first + PURGE_BATCH - 1)
                deleted += connection.execute(delete(EVENTS).where(EVENTS.c.seq <= end)).rowcount
                connection.execute(
                    update(HEAD).where(HEAD.c.id == 1, HEAD.c.purged < end).values(purged=end)
                )
        return deleted
