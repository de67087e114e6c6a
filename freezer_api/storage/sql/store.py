# SPDX-License-Identifier: Apache-2.0
"""The SQL backend: one generic repository over each kind's table."""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    and_,
    delete,
    exc,
    insert,
    or_,
    select,
    true,
    update,
)

from freezer_api.storage.base import (
    AnyOf,
    Change,
    Conflict,
    Filter,
    MarkerNotFound,
    Query,
    Record,
    Scope,
    StorageBusy,
    StorageUnavailable,
    VersionMismatch,
)
from freezer_api.storage.sql import engine as engines
from freezer_api.storage.sql import filters
from freezer_api.storage.sql.models import TABLES

LOG = logging.getLogger(__name__)

#: table -> the column marking records that every project sees
SHARED_COLUMNS = {"clients": "is_central"}


#: SQLSTATEs (PostgreSQL) and error codes (MariaDB/MySQL) of deadlocks and lock waits
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
TRANSIENT_MYSQL_CODES = frozenset({1205, 1213})


def is_transient(error: exc.DBAPIError) -> bool:
    """Tell whether running the transaction again may succeed."""
    original = error.orig
    if getattr(original, "sqlstate", None) in TRANSIENT_SQLSTATES:
        return True
    arguments: tuple[Any, ...] = tuple(getattr(original, "args", ()))
    return bool(arguments) and arguments[0] in TRANSIENT_MYSQL_CODES


@contextlib.contextmanager
def translated_errors(noun: str, doc_id: str = "") -> Iterator[None]:
    """Turn driver exceptions into storage errors, once for the whole backend."""
    try:
        yield
    except exc.IntegrityError:
        raise Conflict(f"{noun} {doc_id} already exists") from None
    except exc.DBAPIError as error:
        if is_transient(error):
            raise StorageBusy("The database is busy; try again.") from None
        if isinstance(error, (exc.OperationalError, exc.InterfaceError)):
            LOG.warning("database unavailable: %s", error)
            raise StorageUnavailable("The database is unavailable; try again later.") from None
        if error.connection_invalidated:
            LOG.warning("database connection lost: %s", error)
            raise StorageUnavailable("The database connection was lost; try again.") from None
        raise
    except exc.TimeoutError as error:
        LOG.warning("no database connection free: %s", error)
        raise StorageUnavailable("The database is overloaded; try again later.") from None


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class SqlRepository:
    """Records of one kind in one table."""

    def __init__(
        self,
        engine: Engine,
        table: Table,
        noun: str,
        lock: engines.WriteLock,
        connection: Connection | None = None,
    ) -> None:
        self._engine = engine
        self._lock = lock
        self._writer = engines.writer(engine)
        self._connection = connection
        self._dialect = engine.dialect.name
        self._table = table
        self._noun = noun
        columns = table.c
        self._record_columns = (
            columns.doc_id,
            columns.project_id,
            columns.user_id,
            columns.version,
            columns.doc,
        )
        self._field_names = frozenset(
            name
            for name in columns.keys()
            if name not in {"pk", "doc_id", "project_id", "user_id", "version", "doc"}
            and name not in {"created_at", "updated_at"}
        )

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Connection]:
        if self._connection is not None:
            yield self._connection
            return
        with self._engine.connect() as connection:
            yield connection

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Connection]:
        if self._connection is not None:
            yield self._connection
            return
        with self._lock.held(), self._writer.begin() as connection:
            yield connection

    # -- reading ---------------------------------------------------------------
    def get(self, *, scope: Scope, doc_id: str) -> Record | None:
        statement = (
            select(*self._record_columns)
            .where(self._in_scope(scope), self._table.c.doc_id == doc_id)
            .order_by(self._table.c.pk)
            .limit(1)
        )
        with translated_errors(self._noun), self._reading() as connection:
            row = connection.execute(statement).first()
        return None if row is None else self._record(row)

    def get_many(self, *, scope: Scope, doc_ids: Sequence[str]) -> dict[str, Record]:
        if not doc_ids:
            return {}
        statement = (
            select(*self._record_columns)
            .where(self._in_scope(scope), self._table.c.doc_id.in_(sorted(set(doc_ids))))
            .order_by(self._table.c.pk.desc())
        )
        with translated_errors(self._noun), self._reading() as connection:
            rows = connection.execute(statement).all()
        return {row.doc_id: self._record(row) for row in rows}

    def exists(self, *, doc_id: str) -> bool:
        statement = select(self._table.c.pk).where(self._table.c.doc_id == doc_id).limit(1)
        with translated_errors(self._noun), self._reading() as connection:
            found = connection.execute(statement).first()
        return found is not None

    def search(self, *, scope: Scope, query: Query) -> list[Record]:
        with translated_errors(self._noun), self._reading() as connection:
            statement = self.search_statement(scope, query, connection)
            rows = connection.execute(statement).all()
        return [self._record(row) for row in rows]

    def search_statement(
        self, scope: Scope, query: Query, connection: Connection | None = None
    ) -> Select[Any]:
        """Build the page query; with a marker, ``connection`` looks up where to continue."""
        table = self._table
        conditions = [self._in_scope(scope), *map(self._condition, query.filters)]
        time_column = table.c.get("time_stamp")
        if time_column is not None and query.time_after is not None:
            conditions.append(time_column >= query.time_after)
        if time_column is not None and query.time_before is not None:
            conditions.append(time_column <= query.time_before)
        page = query.page
        if page.marker is not None and connection is not None:
            marker_pk = connection.execute(
                select(table.c.pk)
                .where(self._in_scope(scope), table.c.doc_id == page.marker)
                .order_by(table.c.pk)
                .limit(1)
            ).scalar()
            if marker_pk is None:
                raise MarkerNotFound(f"marker {page.marker} is not a known {self._noun} id")
            conditions.append(table.c.pk > marker_pk)
        return (
            select(*self._record_columns)
            .where(and_(*conditions))
            .order_by(table.c.pk)
            .limit(page.limit)
            .offset(page.offset)
        )

    # -- writing ---------------------------------------------------------------
    def insert(self, record: Record) -> Record:
        now = _now()
        values = {
            "doc_id": record.doc_id,
            "project_id": record.project_id,
            "user_id": record.user_id,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "doc": record.doc,
            **self._fields(record.fields),
        }
        with translated_errors(self._noun, record.doc_id), self._writing() as connection:
            connection.execute(insert(self._table).values(values))
        return Record(
            doc_id=record.doc_id,
            project_id=record.project_id,
            user_id=record.user_id,
            doc=record.doc,
            fields=record.fields,
            version=1,
        )

    def update(
        self,
        *,
        scope: Scope,
        doc_id: str,
        change: Callable[[Record], Change | None],
        if_version: int | None = None,
    ) -> Record | None:
        table = self._table
        with translated_errors(self._noun, doc_id), self._writing() as connection:
            row = connection.execute(
                select(table.c.pk, *self._record_columns)
                .where(self._in_scope(scope), table.c.doc_id == doc_id)
                .order_by(table.c.pk)
                .limit(1)
                .with_for_update()
            ).first()
            if row is None:
                return None
            current = self._record(row)
            if if_version is not None and current.version != if_version:
                raise VersionMismatch(
                    f"{self._noun} {doc_id} is at version {current.version}, not {if_version}"
                )
            changed = change(current)
            if changed is None:
                return current
            user_id = changed.user_id or current.user_id
            connection.execute(
                update(table)
                .where(table.c.pk == row.pk)
                .values(
                    doc=changed.doc,
                    version=current.version + 1,
                    updated_at=_now(),
                    user_id=user_id,
                    **self._fields(changed.fields),
                )
            )
        return Record(
            doc_id=doc_id,
            project_id=current.project_id,
            user_id=user_id,
            doc=changed.doc,
            fields=changed.fields,
            version=current.version + 1,
        )

    def delete(self, *, scope: Scope, doc_id: str) -> bool:
        statement = delete(self._table).where(self._in_scope(scope), self._table.c.doc_id == doc_id)
        with translated_errors(self._noun, doc_id), self._writing() as connection:
            return connection.execute(statement).rowcount > 0

    # -- helpers ---------------------------------------------------------------
    def _in_scope(self, scope: Scope) -> ColumnElement[bool]:
        table = self._table
        conditions: list[ColumnElement[bool]] = []
        if scope.project_id is not None:
            conditions.append(table.c.project_id == scope.project_id)
        if scope.user_id is not None:
            conditions.append(table.c.user_id == scope.user_id)
        condition: ColumnElement[bool] = true() if scope.everywhere else and_(*conditions)
        shared_column = table.c.get(SHARED_COLUMNS.get(table.name, ""))
        if scope.shared and shared_column is not None:
            condition = or_(condition, shared_column.is_(True))
        return condition

    def _condition(self, condition: Filter | AnyOf) -> ColumnElement[bool]:
        if isinstance(condition, AnyOf):
            return filters.any_of([self._condition(part) for part in condition.filters])
        if isinstance(condition.field, str):
            column: Column[Any] = self._table.c[condition.field]
            matched = filters.column_equals(column, condition.value)
        else:
            matched = filters.json_equals(
                self._dialect, self._table.c.doc, condition.field, condition.value
            )
        return filters.negated(matched) if condition.negate else matched

    def _fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(fields) - self._field_names
        if unknown:
            raise ValueError(f"{self._table.name} has no indexed fields {sorted(unknown)}")
        return dict(fields)

    @staticmethod
    def _record(row: Any) -> Record:
        return Record(
            doc_id=row.doc_id,
            project_id=row.project_id,
            user_id=row.user_id,
            doc=row.doc,
            version=row.version,
        )


class SqlStorage:
    """The SQL backend: SQLite, PostgreSQL or MariaDB/MySQL."""

    NOUNS = {
        "backups": "backup",
        "clients": "client",
        "jobs": "job",
        "actions": "action",
        "sessions": "session",
    }

    def __init__(
        self,
        engine: Engine,
        connection: Connection | None = None,
        lock: engines.WriteLock | None = None,
    ) -> None:
        self.engine = engine
        self._connection = connection
        self._lock = lock or engines.write_lock(engine.url.render_as_string(hide_password=False))
        repositories = {
            kind: SqlRepository(engine, TABLES[kind], noun, self._lock, connection)
            for kind, noun in self.NOUNS.items()
        }
        self.backups = repositories["backups"]
        self.clients = repositories["clients"]
        self.jobs = repositories["jobs"]
        self.actions = repositories["actions"]
        self.sessions = repositories["sessions"]

    @contextlib.contextmanager
    def atomic(self) -> Iterator[SqlStorage]:
        if self._connection is not None:
            yield self
            return
        with (
            translated_errors("document"),
            self._lock.held(),
            engines.writer(self.engine).begin() as connection,
        ):
            yield SqlStorage(self.engine, connection, self._lock)

    def close(self) -> None:
        self._lock.close()
        self.engine.dispose()


def open_sql_storage(url: str, options: Mapping[str, Any]) -> SqlStorage:
    """Open the database at ``url``; the schema must already be migrated."""
    return SqlStorage(engines.create_db_engine(url, options))
