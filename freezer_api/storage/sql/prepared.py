# SPDX-License-Identifier: Apache-2.0
"""Statements compiled once and run straight on the DB-API cursor, for the hottest paths.

SQLAlchemy Core writes the SQL, converts the parameters and the JSON column, and maps
driver errors; only its per-call machinery (building the statement, its cache key, the
execution context and the result object) is left out. On SQLite that machinery costs
many times the primary-key lookup it wraps.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Engine, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.sql.expression import ClauseElement
from sqlalchemy.sql.visitors import InternalTraversal

Row = Sequence[Any]


class Prepared:
    """One statement, compiled for one dialect; parameters are given by bind name."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self._compiled = compiled
        self._positions = tuple(compiled.positiontup or ()) if compiled.positional else None
        self._names = tuple(compiled.bind_names.values())
        #: what binds not named in a call take: the values they were built with
        self._defaults = {
            name: bind.effective_value
            for bind, name in compiled.bind_names.items()
            if not bind.required
        }
        # NOTE: private, but the one place SQLAlchemy keeps the bind conversions (dates
        # on SQLite, the JSON column) of a compiled statement.
        self._processors: Mapping[str, Callable[[Any], Any]] = {
            name: process
            for name, process in compiled._bind_processors.items()
            if callable(process)
        }

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        """The driver's parameters: ``values`` by bind name, converted as SQLAlchemy would.

        NOTE: what ``compiled.construct_params(values)`` gives, without its general
        machinery (cache keys, expanding and escaped names, which these statements do
        not use). A required bind missing from ``values`` raises KeyError.
        """
        named = {**self._defaults, **values}
        for name, process in self._processors.items():
            if name in named:
                named[name] = process(named[name])
        if self._positions is None:
            return {name: named[name] for name in self._names}
        return tuple([named[name] for name in self._positions])


class Statements:
    """Prepared statements of one engine, each built on first use."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._prepared: dict[Any, Prepared] = {}
        self._dialect_ready = False

    def get(self, key: Any, build: Callable[[], ClauseElement]) -> Prepared:
        prepared = self._prepared.get(key)
        if prepared is None:
            if not self._dialect_ready:
                # NOTE: the dialect learns the server's version and quirks on the
                # engine's first connection; the SQL is compiled after that.
                with self.engine.connect():
                    self._dialect_ready = True
            prepared = self._prepared[key] = Prepared(build(), self.engine.dialect)
        return prepared


class Readers:
    """Each thread (of each process) keeps one connection for its reads outside transactions.

    NOTE: the pool's checkout and return cost as much as a read by id: on SQLite as much
    CPU, on MariaDB and PostgreSQL two more round trips (the pre-ping and the rollback on
    return). A reader connection runs in autocommit (each SELECT sees what is committed
    when it starts, and no transaction stays open between reads). One found dead is
    dropped and the read is tried once more on a new one, as the pool's pre-ping would.
    The connections are detached from the pool, so they never starve writers of pooled
    ones; a thread's is closed when the thread ends (servers that start a thread per
    request do not pile them up), and one opened before a fork is left to the parent.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._local = threading.local()
        self._closers: set[weakref.finalize[Any, Any]] = set()
        self._guard = threading.Lock()

    def fetch(self, prepared: Prepared, values: Mapping[str, Any]) -> list[Row]:
        try:
            return fetch(self._engine, prepared, values, self._connection())
        except exc.DBAPIError as error:
            if not error.connection_invalidated:
                raise
            self._drop()
        return fetch(self._engine, prepared, values, self._connection())

    def open_count(self) -> int:
        """How many reader connections this process holds open."""
        with self._guard:
            return sum(1 for closer in self._closers if closer.alive)

    def _connection(self) -> Any:
        reader: _Reader | None = getattr(self._local, "reader", None)
        if reader is None or reader.pid != os.getpid():
            connection = _wrapped(self._engine, self._engine.raw_connection)
            connection.detach()
            dialect = self._engine.dialect
            if dialect.name != "sqlite":
                _wrapped(
                    self._engine,
                    lambda: dialect.set_isolation_level(connection.dbapi_connection, "AUTOCOMMIT"),
                )
            reader = self._local.reader = _Reader(connection)
            with self._guard:
                self._closers = {closer for closer in self._closers if closer.alive}
                self._closers.add(reader.closer)
        return reader.connection

    def _drop(self) -> None:
        """Forget the thread's dead connection.

        NOTE: invalidated, not closed: closing resets it (a ROLLBACK), which on a dead
        connection fails and logs a traceback for what is an expected loss.
        """
        reader = self._local.reader
        self._local.reader = None
        with contextlib.suppress(Exception):
            reader.connection.invalidate()
        reader.closer()

    def close(self) -> None:
        with self._guard:
            closers, self._closers = self._closers, set()
        for closer in closers:
            closer()
        self._local = threading.local()


class _Reader:
    """A thread's reading connection; closed once nothing refers to it (its thread ended)."""

    __slots__ = ("__weakref__", "closer", "connection", "pid")

    def __init__(self, connection: Any) -> None:
        self.pid = os.getpid()
        self.connection = connection
        self.closer = weakref.finalize(self, _close_reader, connection, self.pid)


def _close_reader(connection: Any, pid: int) -> None:
    # NOTE: only in the process that opened it: one inherited through fork is the
    # parent's, and closing it could end the parent's session.
    if os.getpid() == pid:
        with contextlib.suppress(Exception):
            connection.close()


def _wrapped(engine: Engine, call: Callable[[], Any]) -> Any:
    """``call()``, its driver errors given as SQLAlchemy's."""
    dialect = engine.dialect
    error_class = dialect.loaded_dbapi.Error
    try:
        return call()
    except error_class as error:
        raise exc.DBAPIError.instance(None, None, error, error_class, dialect=dialect) from error


class cursor:  # noqa: N801 - used as a function: ``with cursor(engine) as current:``
    """A DB-API cursor: on ``connection`` (an open transaction's, or a thread's reader,
    both kept by the caller), else on a pooled one.

    Driver errors come out as SQLAlchemy's, marked when the connection was found dead; a
    pooled one is then dropped from the pool, as SQLAlchemy's own execution does.

    NOTE: a class rather than a generator context manager: it wraps every read.
    """

    __slots__ = ("_connection", "_current", "_engine", "_pooled")

    def __init__(self, engine: Engine, connection: Any = None) -> None:
        self._engine = engine
        self._pooled = connection is None
        self._connection = connection
        self._current: Any = None

    def __enter__(self) -> Any:
        if self._pooled:
            self._connection = _wrapped(self._engine, self._engine.raw_connection)
        try:
            self._current = self._connection.cursor()
        except BaseException as error:
            self.__exit__(type(error), error, None)
            raise
        return self._current

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> None:
        dialect = self._engine.dialect
        error_class = dialect.loaded_dbapi.Error
        try:
            if isinstance(error, error_class):
                connection = self._connection
                lost = dialect.is_disconnect(error, connection.dbapi_connection, self._current)
                if lost and self._pooled:
                    connection.invalidate(error)
                raise exc.DBAPIError.instance(
                    None, None, error, error_class, connection_invalidated=lost, dialect=dialect
                ) from error
        finally:
            if self._current is not None:
                with contextlib.suppress(error_class):
                    self._current.close()
            if self._pooled:
                self._connection.close()


def fetch(
    engine: Engine, prepared: Prepared, values: Mapping[str, Any], connection: Any = None
) -> list[Row]:
    with cursor(engine, connection) as current:
        current.execute(prepared.sql, prepared.parameters(values))
        rows: list[Row] = current.fetchall()
    return rows


def execute(engine: Engine, prepared: Prepared, values: Mapping[str, Any], connection: Any) -> None:
    with cursor(engine, connection) as current:
        current.execute(prepared.sql, prepared.parameters(values))


class unindexed(ColumnElement[Any]):  # noqa: N801 - reads as a SQL function
    """A column the planner must not pick an index for: ``+column`` on SQLite,
    ``(column || '')`` on PostgreSQL; itself on MariaDB/MySQL.

    NOTE: without statistics SQLite (always) and PostgreSQL (until its first ANALYZE,
    e.g. right after a bulk import) rate "project_id = ?" as selective as "doc_id = ?",
    and with ORDER BY pk LIMIT 1 a read by id walks the project's (project_id, pk)
    index: its cost grows with the project. InnoDB keeps statistics from the start.
    """

    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]
    inherit_cache = True

    def __init__(self, column: ColumnClause[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(unindexed)
def _unindexed(element: unindexed, compiler: Any, **kw: Any) -> str:
    rendered: str = compiler.process(element.column, **kw)
    return rendered


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.column, **kw))


@compiles(unindexed, "postgresql")
def _unindexed_postgresql(element: unindexed, compiler: Any, **kw: Any) -> str:
    return "(" + str(compiler.process(element.column, **kw)) + " || '')"
