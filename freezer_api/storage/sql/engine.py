# SPDX-License-Identifier: Apache-2.0
"""Engine construction: connection pools and the per-engine settings each database needs."""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from freezer_api import jsonfast
from freezer_api.storage.sql import prepared

LOG = logging.getLogger(__name__)

#: PERF: the document key every JSON column is written with last, so that a read for an
#: answer (``Use.ANSWER``) hands its value over as the stored text instead of decoding it
#: (the tables whose answers do say so in their ``info``, ``embeds_stored``).
STORED_LAST = "backup_metadata"
#: Every engine writes JSON columns so: the key reads may take as stored text comes last.
WRITE_DOCUMENT = jsonfast.document_writer(STORED_LAST)

#: Driver used when a URL names only the engine (``postgresql://``, ``mysql://``).
DEFAULT_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}


def normalise_url(url: str) -> URL:
    """Return the URL with this project's driver for engines given without one."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if "+" not in parsed.drivername and backend in DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=f"{backend}+{DEFAULT_DRIVERS[backend]}")
    return parsed


def masked_url(url: str) -> str:
    """``url`` with its password hidden, for the log."""
    return make_url(url).render_as_string(hide_password=True)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_db_engine(url: str, options: Mapping[str, Any]) -> Engine:
    """Create the engine for ``url``.

    ``options`` may hold ``pool_size``, ``max_overflow``, ``pool_timeout``,
    ``pool_recycle``, ``sqlite_synchronous`` and ``wsrep_sync_wait``.
    """
    parsed = normalise_url(url)
    timeout = int(options.get("pool_timeout", 10))
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, timeout, str(options.get("sqlite_synchronous", "FULL")))
    backend = parsed.get_backend_name()
    extra: dict[str, Any] = {}
    if backend == "postgresql":
        extra["connect_args"] = {"connect_timeout": timeout}
    elif backend in ("mysql", "mariadb"):
        extra["connect_args"] = {"connect_timeout": timeout, "charset": "utf8mb4"}
        # NOTE: fewer gap locks, so concurrent inserts deadlock less.
        extra["isolation_level"] = "READ COMMITTED"
    engine = create_engine(
        parsed,
        json_serializer=WRITE_DOCUMENT,
        json_deserializer=jsonfast.loads,
        pool_pre_ping=True,
        pool_size=int(options.get("pool_size", 5)),
        max_overflow=int(options.get("max_overflow", 10)),
        pool_timeout=timeout,
        pool_recycle=int(options.get("pool_recycle", 3600)),
        pool_reset_on_return=None,
        **extra,
    )
    if backend in ("mysql", "mariadb"):
        _sync_wait_on_galera(engine, options.get("wsrep_sync_wait"))
        _not_serving_is_lost(engine)
    _lost_on_return_is_quiet(engine)
    return engine


def _lost_on_return_is_quiet(engine: Engine) -> None:
    """Roll back each connection returned to the pool (SQLAlchemy's own reset), except that
    a connection found lost on the way back is invalidated with one warning.

    NOTE: the pool's own reset logs such a failed ROLLBACK at ERROR with a traceback, for
    what is a database server (or Galera node) that went away between two requests; any
    other failure still propagates to the pool, which logs it so and invalidates.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "reset")
    def _reset(dbapi_connection: Any, record: Any, state: Any) -> None:
        if state.transaction_was_reset or not state.asyncio_safe:
            return
        try:
            dbapi_connection.rollback()
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            LOG.warning("database connection lost on return to the pool: %s", error)
            if record is not None:
                record.invalidate(e=error)


#: MariaDB errors of a server that takes connections but serves no SQL on them: a Galera
#: node without quorum or not yet synced (1047), a server shutting down (1053)
NOT_SERVING = frozenset({1047, 1053})


def _not_serving_is_lost(engine: Engine) -> None:
    """Treat a connection to a server that serves no SQL as lost: it is invalidated (with
    the pool), not reset and reused.

    NOTE: otherwise the pool resets it with a ROLLBACK that fails the same way, and logs
    that with a traceback at ERROR, for what is a node out of its cluster. oslo.db counts
    1047 as a lost connection too. The dialect is asked by SQLAlchemy's execution and by
    this project's prepared cursors (``prepared.cursor``) alike.
    """
    dialect = engine.dialect
    known = dialect.is_disconnect

    def is_disconnect(error: Any, connection: Any, cursor: Any) -> bool:
        if known(error, connection, cursor):
            return True
        arguments: tuple[Any, ...] = tuple(getattr(error, "args", ()))
        return bool(arguments) and arguments[0] in NOT_SERVING

    dialect.is_disconnect = is_disconnect  # type: ignore[method-assign,assignment]


#: wsrep_sync_wait on a Galera node unless configured: reads wait for the cluster's commits
GALERA_SYNC_WAIT = 1


def _sync_wait_on_galera(engine: Engine, configured: int | None) -> None:
    """Set ``wsrep_sync_wait`` on each new connection to a Galera node.

    NOTE: whether the server runs Galera is asked on the engine's first connection only;
    a MySQL server (which has no such variable) or a MariaDB without wsrep is left alone.
    """
    galera: list[bool] = []

    @event.listens_for(engine, "connect")
    def _set(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if not galera:
                cursor.execute("SHOW VARIABLES LIKE 'wsrep_on'")
                row = cursor.fetchone()
                galera.append(row is not None and str(row[1]).upper() == "ON")
            if galera[0]:
                wait = GALERA_SYNC_WAIT if configured is None else int(configured)
                cursor.execute(f"SET SESSION wsrep_sync_wait = {wait}")
        finally:
            cursor.close()


def _sqlite_engine(url: URL, timeout: int, synchronous: str) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": timeout, "check_same_thread": False},
        json_serializer=WRITE_DOCUMENT,
        json_deserializer=jsonfast.loads,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # NOTE: take transaction control from the sqlite3 module, so that BEGIN is
        # emitted by the "begin" hook below, and writers can take the lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={timeout * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # NOTE: a writer that began DEFERRED could fail to upgrade its read lock while
        # another process writes; IMMEDIATE waits for the lock (busy_timeout) instead.
        # A reader needs no transaction: each SELECT sees one consistent WAL snapshot.
        # NOTE: straight on the driver: SQLAlchemy's execution costs more than the BEGIN.
        mode = connection.get_execution_options().get("sqlite_begin")
        if mode is not None:
            with prepared.cursor(engine, connection.connection) as current:
                current.execute(f"BEGIN {mode}")

    return engine


class WriteLock:
    """Lets the processes writing to one SQLite database take turns, without SQLite's
    sleep-and-retry busy handler.

    ``flock`` of a file beside the database, which the kernel releases if a process dies.
    It does not order the threads of a process: their writers take turns in
    ``commit.GroupCommit``, whose turn holder takes and releases this lock. Databases
    without a file path get a lock that does nothing.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._handle: IO[bytes] | None = None
        self._pid = 0

    def acquire(self) -> None:
        if self._path is not None:
            fcntl.flock(self._file(), fcntl.LOCK_EX)

    def release(self) -> None:
        if self._path is not None:
            fcntl.flock(self._file(), fcntl.LOCK_UN)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _file(self) -> IO[bytes]:
        # NOTE: opened in the process that uses it; a file inherited through fork would
        # share its lock with the parent.
        if self._handle is None or self._pid != os.getpid():
            assert self._path is not None
            self._handle = self._path.open("ab")
            self._pid = os.getpid()
        return self._handle


def write_lock(url: str) -> WriteLock:
    """Return the write lock for writers to the database at ``url``."""
    parsed = normalise_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return WriteLock(None)
    if database.startswith("file:"):
        return WriteLock(None)
    path = Path(database).expanduser()
    return WriteLock(path.with_name(path.name + ".write-lock"))


def writer(engine: Engine) -> Engine:
    """Return an engine sharing ``engine``'s pool whose transactions take the write lock first."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")
