# SPDX-License-Identifier: Apache-2.0
"""The SQL backend's lifecycle: schema, export and import, opening the storage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import exc

from freezer_api.storage.base import Document, SchemaNotReady, StorageUnavailable
from freezer_api.storage.sql import engine as engines
from freezer_api.storage.sql import legacy, migrate, transfer
from freezer_api.storage.sql.store import SqlStorage


class SqlBackend:
    """SQLite, PostgreSQL or MariaDB/MySQL at one SQLAlchemy URL.

    Each method opens what it needs and releases it before returning; only the storage
    ``open`` returns stays open (until its ``close``).
    """

    def __init__(self, url: str, options: Mapping[str, Any]) -> None:
        self.url = url
        self._options = dict(options)

    def _run(self, work: Any) -> Any:
        engine = engines.create_db_engine(self.url, self._options)
        try:
            return work(engine)
        finally:
            engine.dispose()

    def open(self) -> SqlStorage:
        return SqlStorage(engines.create_db_engine(self.url, self._options))

    def head(self) -> str:
        return migrate.head()

    def version(self) -> str | None:
        found: str | None = self._run(migrate.current)
        return found

    def upgrade(self) -> str:
        self._run(migrate.upgrade)
        return migrate.head()

    def check(self) -> list[str]:
        found = self.version()
        if found == migrate.head():
            return []
        return [
            f"the database schema is at revision {found or 'none'}, this code needs "
            f"{migrate.head()}: run 'freezer-manage db sync'"
        ]

    def prepare(self, *, create: bool) -> None:
        try:
            if create and engines.is_sqlite(self.url):
                self.upgrade()
                return
            problems = self.check()
        except (exc.OperationalError, exc.InterfaceError) as error:
            reason = " ".join(str(error.orig or error).split())
            raise StorageUnavailable(
                f"the database at {engines.masked_url(self.url)} cannot be reached: {reason}"
            ) from None
        if problems:
            raise SchemaNotReady("; ".join(problems))

    def export(self) -> Iterator[Document]:
        engine = engines.create_db_engine(self.url, self._options)
        try:
            yield from transfer.export_records(engine)
        finally:
            engine.dispose()

    def import_records(
        self,
        records: Iterable[Document],
        *,
        dry_run: bool = False,
        batch_size: int | None = None,
        skip_existing: bool = False,
    ) -> Counter[str]:
        counts: Counter[str] = self._run(
            lambda engine: transfer.import_records(
                engine,
                records,
                dry_run=dry_run,
                batch_size=batch_size,
                skip_existing=skip_existing,
            )
        )
        return counts

    def read_freezer_api_19(self, table: str) -> Iterator[Document]:
        engine = engines.create_db_engine(self.url, self._options)
        try:
            yield from legacy.legacy_rows(engine, table)
        finally:
            engine.dispose()
