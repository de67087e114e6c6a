# SPDX-License-Identifier: Apache-2.0
"""SQL schema. It changes only through the Alembic migrations beside this module.

Every kind has the same core columns (a surrogate ``pk`` that orders lists, the
public ``doc_id``, owner, version, timestamps and the JSON document) plus indexed
columns for what clients filter on.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

#: Longest id, name or host the API accepts; the schemas (and, for the caller's identity,
#: ``context.IDENTITY_LENGTH``) check it before the database does.
ID_LENGTH = 255


class ExactText(TypeDecorator[str]):
    """VARCHAR compared exactly on every engine.

    NOTE: MariaDB/MySQL compare strings case- and trailing-space-insensitively by default,
    and their ``utf8mb4_bin`` still pads (``'etc' = 'etc '``): these columns are binary
    and without padding (migration 0004), ``utf8mb4_nopad_bin`` on MariaDB,
    ``utf8mb4_0900_bin`` on MySQL 8, whatever the URL's dialect name says.
    """

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name not in ("mysql", "mariadb"):
            return dialect.type_descriptor(String(self.length))
        collation = (
            "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
        )
        return dialect.type_descriptor(
            mysql.VARCHAR(self.length, charset="utf8mb4", collation=collation)
        )


Name = ExactText(ID_LENGTH)
Flag = ExactText(32)
# NOTE: SQLite makes only an INTEGER PRIMARY KEY an alias of its rowid (auto-increment).
PrimaryKey = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class DocumentColumns:
    pk: Mapped[int] = mapped_column(PrimaryKey, primary_key=True, autoincrement=True)
    doc_id: Mapped[str] = mapped_column(Name)
    project_id: Mapped[str] = mapped_column(Name)
    user_id: Mapped[str] = mapped_column(Name)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)


def owner_indexes(table: str) -> tuple[Index, Index]:
    """Lists are read per project (v2) or per user (v1), in ``pk`` order."""
    return (
        Index(f"ix_{table}_project_pk", "project_id", "pk"),
        Index(f"ix_{table}_user_pk", "user_id", "pk"),
    )


class Backup(DocumentColumns, Base):
    __tablename__ = "backups"
    __table_args__ = (
        UniqueConstraint("user_id", "doc_id", name="uq_backups_user_doc"),
        Index("ix_backups_doc_id", "doc_id"),
        *owner_indexes("backups"),
        Index("ix_backups_project_name", "project_id", "backup_name", "pk"),
        Index("ix_backups_project_host", "project_id", "hostname", "pk"),
        Index("ix_backups_project_container", "project_id", "container", "pk"),
        Index("ix_backups_project_time", "project_id", "time_stamp"),
        Index("ix_backups_user_name", "user_id", "backup_name", "pk"),
        Index("ix_backups_user_host", "user_id", "hostname", "pk"),
        Index("ix_backups_set_time", "project_id", "set_key", "time_stamp", "pk"),
        Index("ix_backups_set_level", "project_id", "set_key", "level", "time_stamp", "pk"),
        Index("ix_backups_name_container", "project_id", "name_key", "container"),
        {"info": {"noun": "backup", "embeds_stored": True}},
    )

    user_name: Mapped[str | None] = mapped_column(Name)
    status: Mapped[str | None] = mapped_column(Flag)
    container: Mapped[str | None] = mapped_column(Name)
    hostname: Mapped[str | None] = mapped_column(Name)
    backup_name: Mapped[str | None] = mapped_column(Name)
    time_stamp: Mapped[int | None] = mapped_column(BigInteger)
    level: Mapped[int | None] = mapped_column(Integer)
    job_id: Mapped[str | None] = mapped_column(Name)
    #: ``storage.base.set_key`` of (hostname, backup_name, container): the backup's set
    set_key: Mapped[str | None] = mapped_column(String(40))
    #: ``storage.base.name_key`` of (hostname, backup_name): its sets, by container
    name_key: Mapped[str | None] = mapped_column(String(40))


class Client(DocumentColumns, Base):
    __tablename__ = "clients"
    __table_args__ = (
        UniqueConstraint("project_id", "doc_id", name="uq_clients_project_doc"),
        Index("ix_clients_doc_id", "doc_id"),
        *owner_indexes("clients"),
        Index("ix_clients_central", "is_central", "pk"),
        {"info": {"noun": "client"}},
    )

    hostname: Mapped[str | None] = mapped_column(Name)
    is_central: Mapped[bool] = mapped_column(Boolean, default=False)
    #: seconds since the epoch of the client's last contact (a poll, registration, job
    #: update); written at most every ``[clients] alive_seconds / 10``, never versioned
    last_seen: Mapped[int | None] = mapped_column(BigInteger)


class Job(DocumentColumns, Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("doc_id", name="uq_jobs_doc"),
        *owner_indexes("jobs"),
        Index("ix_jobs_project_client", "project_id", "client_id", "pk"),
        Index("ix_jobs_user_client", "user_id", "client_id", "pk"),
        Index("ix_jobs_client", "client_id", "pk"),
        Index("ix_jobs_project_session", "project_id", "session_id"),
        {"info": {"noun": "job"}},
    )

    client_id: Mapped[str | None] = mapped_column(Name)
    session_id: Mapped[str | None] = mapped_column(Name)
    status: Mapped[str | None] = mapped_column(Flag)
    event: Mapped[str | None] = mapped_column(Flag)
    result: Mapped[str | None] = mapped_column(Flag)


class Action(DocumentColumns, Base):
    __tablename__ = "actions"
    __table_args__ = (
        UniqueConstraint("doc_id", name="uq_actions_doc"),
        *owner_indexes("actions"),
        Index("ix_actions_project_name", "project_id", "backup_name", "pk"),
        {"info": {"noun": "action"}},
    )

    action: Mapped[str | None] = mapped_column(Flag)
    mode: Mapped[str | None] = mapped_column(Flag)
    backup_name: Mapped[str | None] = mapped_column(Name)


class Session(DocumentColumns, Base):
    __tablename__ = "sessions"
    __table_args__ = (
        UniqueConstraint("doc_id", name="uq_sessions_doc"),
        *owner_indexes("sessions"),
        {"info": {"noun": "session"}},
    )

    status: Mapped[str | None] = mapped_column(Flag)


class Objective(DocumentColumns, Base):
    """A freshness objective: the sets it selects, and how old their last good backup may be."""

    __tablename__ = "objectives"
    __table_args__ = (
        UniqueConstraint("doc_id", name="uq_objectives_doc"),
        *owner_indexes("objectives"),
        {"info": {"noun": "objective"}},
    )


class Event(Base):
    """One create, update or delete of a record, written in the change's own transaction.

    ``seq`` is the order in which the changes became visible (commit order): the event
    head's counter, which every writing transaction takes last and holds until its commit,
    on PostgreSQL and MariaDB (where an auto-increment or a sequence is handed out at the
    insert, not at the commit); SQLite has one writer at a time, and ``AUTOINCREMENT``
    never hands out a number twice.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_project_seq", "project_id", "seq"),
        Index("ix_events_time", "time"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(PrimaryKey, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(Name)
    kind: Mapped[str] = mapped_column(Flag)
    doc_id: Mapped[str] = mapped_column(Name)
    operation: Mapped[str] = mapped_column(Flag)
    version: Mapped[int] = mapped_column(Integer)
    #: seconds since the epoch
    time: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[str | None] = mapped_column(Name)


class EventHead(Base):
    """One row: the last ``seq`` handed out, and the last one purged."""

    __tablename__ = "event_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    purged: Mapped[int] = mapped_column(BigInteger)


#: the columns every kind's table has; the others are the kind's indexed fields
CORE_COLUMNS = frozenset(
    {"pk", "doc_id", "project_id", "user_id", "version", "created_at", "updated_at", "doc"}
)


def field_names(table: Table) -> list[str]:
    """The indexed fields of a kind's table (``backup_name``, ``status``...), in table order."""
    return [column.name for column in table.c if column.name not in CORE_COLUMNS]


def noun_of(table: Table) -> str:
    """The singular its messages name a record of ``table`` by ("backup")."""
    noun: str = table.info["noun"]
    return noun


#: kind name -> table, as the store looks them up
TABLES: dict[str, Table] = {
    model.__tablename__: model.__table__  # type: ignore[misc]
    for model in (Backup, Client, Job, Action, Session, Objective)
}
