# SPDX-License-Identifier: Apache-2.0
"""Write transactions; on SQLite, the writers of a process share commits (group commit).

SQLite has one writer at a time, and with ``synchronous = FULL`` every commit waits for the
disk. A transaction per write makes that wait the limit on writes per second, however many
requests are ready. :class:`GroupCommit` lets the writers that arrive while a commit is on
its way to the disk write in the next transaction together, and commits it once for all.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Iterator

from sqlalchemy import Connection, Engine, RootTransaction

from freezer_api import metrics
from freezer_api.storage.base import StorageUnavailable
from freezer_api.storage.sql import engine as engines
from freezer_api.storage.sql import prepared


class Transactions:
    """A transaction per writer, for engines that lock rows themselves."""

    def __init__(self, writer: Engine) -> None:
        self._writer = writer

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self._writer.begin() as connection:
            yield connection

    def close(self) -> None:
        """Nothing to release: the engine's pool holds the connections."""


def for_engine(engine: Engine) -> Transactions:
    """The write transactions of ``engine``: group commit on SQLite, one per writer elsewhere."""
    writer = engines.writer(engine)
    if engine.dialect.name != "sqlite":
        return Transactions(writer)
    url = engine.url.render_as_string(hide_password=False)
    return GroupCommit(writer, engines.write_lock(url))


class _Batch:
    """One transaction shared by the writers that take turns in it."""

    def __init__(self, connection: Connection, transaction: RootTransaction) -> None:
        self.connection = connection
        self.transaction = transaction
        #: writers whose changes the transaction holds
        self.members = 0
        #: why the commit failed, for every member
        self.error: BaseException | None = None
        #: a savepoint failed: the changes of the writers before are not known to be intact
        self.broken = False
        self.done = threading.Event()

    def failure(self) -> BaseException:
        """A member's own copy of the commit's error, to raise in the member's thread.

        NOTE: one exception object raised in many threads at once would have its
        traceback written by all of them; each member raises a copy (same type, same
        arguments: the storage layer translates it as it would the original).
        """
        assert self.error is not None
        return copy.copy(self.error).with_traceback(None)

    def usable(self) -> bool:
        return not self.broken and self.transaction.is_active and not self.connection.invalidated


class GroupCommit(Transactions):
    """SQLite write transactions: a process's writers take turns in one, committed once.

    Each writer runs in a savepoint of the shared transaction, so a writer that fails undoes
    only its own changes. The writer whose turn ends with nobody waiting commits (one fsync)
    for all, and each writer returns only once the commit holding its changes is done: what
    is acknowledged is on disk, as with a commit per write. The processes sharing the
    database take turns on ``lock``, held from a batch's BEGIN to its COMMIT.
    """

    #: most writers one commit serves, so that under a steady stream every writer returns
    MAX_MEMBERS = 64
    #: seconds a writer waits for its batch's commit before checking nobody holds the turn
    RESCUE_AFTER = 1.0

    def __init__(self, writer: Engine, lock: engines.WriteLock) -> None:
        super().__init__(writer)
        self._lock = lock
        self._turns = threading.Condition()
        self._busy = False
        self._waiting = 0
        #: the open batch; read and written only by the writer whose turn it is
        self._batch: _Batch | None = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        batch = self._take_turn()
        try:
            self._driver_sql(batch, "SAVEPOINT writer")
            try:
                yield batch.connection
            except BaseException:
                # NOTE: the writer's own error is the one to report; a batch whose
                # savepoint cannot be undone is marked broken, and rolled back whole.
                with contextlib.suppress(Exception):
                    self._driver_sql(batch, "ROLLBACK TO writer")
                    self._driver_sql(batch, "RELEASE writer")
                raise
            self._driver_sql(batch, "RELEASE writer")
        except BaseException:
            self._end_turn(batch, joined=False)
            raise
        self._end_turn(batch, joined=True)
        while not batch.done.wait(self.RESCUE_AFTER):
            self._rescue(batch)
        if batch.error is not None:
            raise batch.failure() from batch.error

    def _driver_sql(self, batch: _Batch, sql: str) -> None:
        # NOTE: straight on the driver: SQLAlchemy's nested transactions cost more than
        # the insert they would wrap. A savepoint that fails leaves the batch unusable.
        try:
            with prepared.cursor(self._writer, batch.connection.connection) as current:
                current.execute(sql)
        except BaseException:
            batch.broken = True
            raise

    def _take_turn(self) -> _Batch:
        with self._turns:
            self._waiting += 1
            try:
                while self._busy:
                    self._turns.wait()
            finally:
                self._waiting -= 1
            self._busy = True
        if self._batch is None:
            try:
                self._batch = self._open()
            except BaseException:
                self._give_turn()
                raise
        return self._batch

    def _open(self) -> _Batch:
        # NOTE: the pool's checkout before the lock, its checkin after: the lock is held
        # only for what the other processes wait for.
        connection = self._writer.connect()
        try:
            self._lock.acquire()
            try:
                return _Batch(connection, connection.begin())
            except BaseException:
                self._lock.release()
                raise
        except BaseException:
            connection.close()
            raise

    def _end_turn(self, batch: _Batch, *, joined: bool) -> None:
        usable = batch.usable()
        with self._turns:
            if joined:
                batch.members += 1
            if usable and self._waiting and batch.members < self.MAX_MEMBERS:
                # NOTE: a writer is waiting; it joins this batch, and commits it or
                # passes the turn on in its own turn.
                self._busy = False
                self._turns.notify()
                return
        self._commit_in_turn(batch, usable)

    def _commit_in_turn(self, batch: _Batch, usable: bool) -> None:
        """Close ``batch`` to new writers, commit it, and give the turn on."""
        self._batch = None
        try:
            self._finish(batch, usable)
        finally:
            self._give_turn()

    def _finish(self, batch: _Batch, usable: bool) -> None:
        try:
            if usable and batch.members:
                batch.transaction.commit()
                metrics.server_metrics().group_commit.observe(batch.members)
            else:
                batch.transaction.rollback()
                if batch.members:
                    batch.error = StorageUnavailable(
                        "The database transaction failed before it was committed; try again."
                    )
        except BaseException as error:  # noqa: BLE001 - every member is told, in its thread
            batch.error = error
        finally:
            try:
                try:
                    self._lock.release()
                finally:
                    batch.connection.close()
            finally:
                batch.done.set()

    def _rescue(self, batch: _Batch) -> None:
        """Commit ``batch`` if the writer it was passed to never took its turn.

        NOTE: a writer is only told the turn is free; one that dies waiting for it (an
        asynchronous exception) would leave the batch open with its members waiting.
        """
        with self._turns:
            if self._busy or self._batch is not batch:
                return
            self._busy = True
        self._commit_in_turn(batch, batch.usable())

    def close(self) -> None:
        self._lock.close()

    def _give_turn(self) -> None:
        with self._turns:
            self._busy = False
            self._turns.notify()
