# SPDX-License-Identifier: Apache-2.0
"""Backup sets on SQL: index seeks on (project_id, set_key, [level,] time_stamp, pk)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, Integer, Select, and_, bindparam, func, or_, select

from freezer_api.storage.base import BackupSet, SetBackup, SetNames, name_key
from freezer_api.storage.sql import prepared
from freezer_api.storage.sql.models import TABLES
from freezer_api.storage.sql.store import reading, translated_errors

BACKUPS = TABLES["backups"]
COLUMNS = BACKUPS.c
#: most containers listed for a host's backups of one name
MAX_CONTAINERS = 100
#: the columns of a ``SetBackup``, in its order
SET_BACKUP = (
    COLUMNS.doc_id,
    COLUMNS.time_stamp,
    COLUMNS.level,
    COLUMNS.status,
    COLUMNS.pk,
    COLUMNS.doc,
    COLUMNS.version,
)


class SqlBackupSets:
    """``storage.base.BackupSets`` over the backups table."""

    def __init__(self, engine: Engine, connection: Connection | None = None) -> None:
        self._engine = engine
        self._connection = connection

    def within(self, connection: Connection) -> SqlBackupSets:
        """These sets, read in ``connection``'s open transaction."""
        return SqlBackupSets(self._engine, connection)

    @contextlib.contextmanager
    def pinned(self) -> Iterator[SqlBackupSets]:
        if self._connection is not None:
            yield self
            return
        with translated_errors("backup set"), self._engine.connect() as connection:
            yield self.within(connection)

    def _reading(self) -> contextlib.AbstractContextManager[Connection]:
        return reading(self._engine, self._connection)

    def sets(
        self, *, project_id: str, names: Mapping[str, str], after: str | None, limit: int
    ) -> list[BackupSet]:
        # NOTE: with names, their indexes (project_id, hostname ...) find the rows, which are
        # grouped after; without, the groups come in order from (project_id, set_key, ...)
        # and the page ends after ``limit`` of them. Planners without statistics (SQLite)
        # would walk the set index for the names too, through the whole project.
        key = prepared.unindexed(COLUMNS.set_key) if names else COLUMNS.set_key
        conditions: list[Any] = [COLUMNS.project_id == project_id, key.is_not(None)]
        conditions += [COLUMNS[name] == value for name, value in names.items()]
        if after is not None:
            conditions.append(key > after)
        statement = (
            select(
                key,
                func.min(COLUMNS.hostname),
                func.min(COLUMNS.backup_name),
                func.min(COLUMNS.container),
                func.count(),
                func.min(COLUMNS.time_stamp),
                func.max(COLUMNS.time_stamp),
                func.max(COLUMNS.level),
            )
            .where(*conditions)
            .group_by(key)
            .order_by(key)
            .limit(limit)
        )
        with translated_errors("backup set"), self._reading() as connection:
            rows = connection.execute(statement).all()
        return [BackupSet(*row) for row in rows]

    def names(self, *, project_id: str, after: str | None, limit: int) -> list[SetNames]:
        # NOTE: a skip scan, one seek on (project_id, set_key) per set: grouping would read
        # every backup of the sets (a compliance page of 1,000 sets at 1,000,000 backups)
        found: list[SetNames] = []
        with translated_errors("backup set"), self._reading() as connection:
            while len(found) < limit:
                values = {"project_id": project_id, "after": after or ""}
                row = connection.execute(_NEXT_SET, values).first()
                if row is None:
                    break
                found.append(SetNames(*row))
                after = row[0]
        return found

    def selects_any(self, *, project_id: str, names: Mapping[str, str]) -> bool:
        statement = (
            select(COLUMNS.pk)
            .where(
                COLUMNS.project_id == project_id,
                *(COLUMNS[name] == value for name, value in names.items()),
            )
            .limit(1)
        )
        with translated_errors("backup set"), self._reading() as connection:
            return connection.execute(statement).first() is not None

    def projects(self) -> list[str]:
        statement = (
            select(COLUMNS.project_id)
            .where(COLUMNS.set_key.is_not(None))
            .group_by(COLUMNS.project_id)
            .order_by(COLUMNS.project_id)
        )
        with translated_errors("backup set"), self._reading() as connection:
            return [row[0] for row in connection.execute(statement)]

    def containers(self, *, project_id: str, hostname: str, backup_name: str) -> list[str | None]:
        """Index seeks on (project_id, name_key, container): one per container, and one for
        backups without a container."""
        key = name_key(hostname, backup_name)
        same = (COLUMNS.project_id == project_id, COLUMNS.name_key == key)
        found: list[str | None] = []
        with translated_errors("backup set"), self._reading() as connection:
            none = select(COLUMNS.pk).where(*same, COLUMNS.container.is_(None)).limit(1)
            if connection.execute(none).first() is not None:
                found.append(None)
            after: str | None = None
            while len(found) < MAX_CONTAINERS:
                conditions = [*same, COLUMNS.container.is_not(None)]
                if after is not None:
                    conditions.append(COLUMNS.container > after)
                statement = (
                    select(COLUMNS.container)
                    .where(*conditions)
                    .order_by(COLUMNS.container)
                    .limit(1)
                )
                row = connection.execute(statement).first()
                if row is None:
                    break
                after = row[0]
                found.append(after)
        return found

    def backups(
        self,
        *,
        project_id: str,
        key: str,
        level: int | None = None,
        before: tuple[int, int] | None = None,
        at_most: int | None = None,
        limit: int = 1,
        after: tuple[int, int] | None = None,
        oldest_first: bool = False,
    ) -> list[SetBackup]:
        values: dict[str, Any] = {"project_id": project_id, "key": key, "limit": limit}
        if level is not None:
            values["level"] = level
        if before is not None:
            values["before_time"], values["before_order"] = before
        if at_most is not None:
            values["at_most"] = at_most
        if after is not None:
            values["after_time"], values["after_order"] = after
        statement = _backups_statement(
            level is not None, before is not None, at_most is not None, after is not None,
            oldest_first,
        )  # fmt: skip
        with translated_errors("backup set"), self._reading() as connection:
            rows = connection.execute(statement, values).all()
        return [SetBackup(*row) for row in rows]

    def backup(self, *, project_id: str, backup_id: str) -> tuple[str, SetBackup] | None:
        statement = select(COLUMNS.set_key, *SET_BACKUP).where(
            COLUMNS.project_id == project_id,
            COLUMNS.doc_id == backup_id,
            COLUMNS.time_stamp.is_not(None),
        )
        with translated_errors("backup set"), self._reading() as connection:
            row = connection.execute(statement.limit(1)).first()
        return None if row is None else (row[0], SetBackup(*row[1:]))


@functools.lru_cache(maxsize=64)
def _backups_statement(
    level: bool, before: bool, at_most: bool, after: bool, oldest_first: bool
) -> Select[Any]:
    """PERF: the read of ``SqlBackupSets.backups`` for one combination of its bounds, built
    once (its values bound at each run): a restore point takes a read per link, a
    compliance page a few thousand, and building each again cost more than running it."""
    conditions: list[Any] = [
        COLUMNS.project_id == bindparam("project_id"),
        COLUMNS.set_key == bindparam("key"),
        COLUMNS.time_stamp.is_not(None),
    ]
    if level:
        conditions.append(COLUMNS.level == bindparam("level"))
    if before:
        conditions.append(
            or_(
                COLUMNS.time_stamp < bindparam("before_time"),
                and_(
                    COLUMNS.time_stamp == bindparam("before_time"),
                    COLUMNS.pk < bindparam("before_order"),
                ),
            )
        )
    if at_most:
        conditions.append(COLUMNS.time_stamp <= bindparam("at_most"))
    if after:
        conditions.append(
            or_(
                COLUMNS.time_stamp > bindparam("after_time"),
                and_(
                    COLUMNS.time_stamp == bindparam("after_time"),
                    COLUMNS.pk > bindparam("after_order"),
                ),
            )
        )
    order_by = (
        (COLUMNS.time_stamp, COLUMNS.pk)
        if oldest_first
        else (COLUMNS.time_stamp.desc(), COLUMNS.pk.desc())
    )
    return (
        select(*SET_BACKUP)
        .where(*conditions)
        .order_by(*order_by)
        .limit(bindparam("limit", type_=Integer()))
    )


#: the set after ``after`` (by key) of a project, and its names
_NEXT_SET = (
    select(COLUMNS.set_key, COLUMNS.hostname, COLUMNS.backup_name, COLUMNS.container)
    .where(COLUMNS.project_id == bindparam("project_id"), COLUMNS.set_key > bindparam("after"))
    .order_by(COLUMNS.set_key)
    .limit(1)
)
