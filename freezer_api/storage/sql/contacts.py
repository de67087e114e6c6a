# SPDX-License-Identifier: Apache-2.0
"""Clients' last contact on SQL: ``clients.last_seen``, outside the documents' versions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Engine, Table, func, or_, select, update

from freezer_api.storage.base import Scope
from freezer_api.storage.sql import commit
from freezer_api.storage.sql.models import TABLES
from freezer_api.storage.sql.store import (
    reading,
    scope_condition,
    scope_key,
    scope_values,
    translated_errors,
)

CLIENTS: Table = TABLES["clients"]
COLUMNS = CLIENTS.c
#: most clients one ``quiet`` answer names
MAX_QUIET = 1000


def _in_scope(scope: Scope, by_id: bool = False) -> ColumnElement[bool]:
    """The clients a scope sees: its own, and (shared) every project's central ones."""
    return scope_condition(CLIENTS, scope_key(scope), by_id)


class SqlContacts:
    """``storage.base.Contacts`` over the clients table."""

    def __init__(self, engine: Engine, transactions: commit.Transactions) -> None:
        self._engine = engine
        self._transactions = transactions

    def touch(self, *, scope: Scope, client_id: str, at: int, unless_after: int) -> None:
        statement = (
            update(CLIENTS)
            .where(
                _in_scope(scope, by_id=True),
                COLUMNS.doc_id == client_id,
                or_(COLUMNS.last_seen.is_(None), COLUMNS.last_seen <= unless_after),
            )
            .values(last_seen=at)
        )
        with translated_errors("client", client_id), self._transactions.transaction() as connection:
            connection.execute(statement, scope_values(scope))

    def seen(self, *, scope: Scope, client_ids: Sequence[str]) -> dict[str, int | None]:
        if not client_ids:
            return {}
        statement = select(COLUMNS.doc_id, COLUMNS.last_seen).where(
            _in_scope(scope, by_id=True), COLUMNS.doc_id.in_(sorted(set(client_ids)))
        )
        with translated_errors("client"), reading(self._engine, None) as connection:
            rows = list(connection.execute(statement, scope_values(scope)).all())
        found: dict[str, int | None] = {}
        for doc_id, last_seen in rows:
            # NOTE: an id in two projects the scope sees (its own and a central one): the latest
            if doc_id not in found or (last_seen or 0) > (found[doc_id] or 0):
                found[doc_id] = last_seen
        return found

    def quiet(self, *, scope: Scope, before: int) -> list[str]:
        statement = (
            select(COLUMNS.doc_id)
            .where(_in_scope(scope), COLUMNS.last_seen < before)
            .order_by(COLUMNS.doc_id)
            .limit(MAX_QUIET)
        )
        with translated_errors("client"), reading(self._engine, None) as connection:
            return list(connection.execute(statement, scope_values(scope)).scalars())


JOBS: Table = TABLES["jobs"]


class SqlTallies:
    """``storage.base.Tallies``: counts over the clients and jobs tables, for metrics."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def jobs_by_status(self) -> list[tuple[str, str | None, int]]:
        statement = (
            select(JOBS.c.project_id, JOBS.c.status, func.count())
            .group_by(JOBS.c.project_id, JOBS.c.status)
            .order_by(JOBS.c.project_id, JOBS.c.status)
        )
        with translated_errors("job"), reading(self._engine, None) as connection:
            return [(row[0], row[1], int(row[2])) for row in connection.execute(statement)]

    def clients_seen(self, limit: int) -> list[tuple[str, str, int | None]]:
        statement = (
            select(COLUMNS.project_id, COLUMNS.doc_id, COLUMNS.last_seen)
            .order_by(COLUMNS.pk)
            .limit(limit)
        )
        with translated_errors("client"), reading(self._engine, None) as connection:
            return [(row[0], row[1], row[2]) for row in connection.execute(statement)]
