# SPDX-License-Identifier: Apache-2.0
"""Throw-away databases on the PostgreSQL and MariaDB servers of the test machine."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from freezer_api.storage.sql.engine import normalise_url
from freezer_api.storage.sql.feed import EVENTS, HEAD
from freezer_api.storage.sql.models import TABLES


def _admin(admin_url: str) -> Engine:
    return create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")


def create(admin_url: str) -> str:
    """Create an empty database next to ``admin_url``'s and return its URL."""
    name = f"freezer_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    engine = _admin(admin_url)
    backend = engine.dialect.name
    with engine.connect() as connection:
        if backend == "postgresql":
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        else:
            connection.execute(
                text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            )
    engine.dispose()
    return normalise_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop(admin_url: str, url: str) -> None:
    name = make_url(url).database
    engine = _admin(admin_url)
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    engine.dispose()


def empty(url: str) -> None:
    """Delete every row, keeping the schema."""
    engine = create_engine(normalise_url(url))
    with engine.begin() as connection:
        for table in TABLES.values():
            connection.execute(table.delete())
        connection.execute(EVENTS.delete())
        connection.execute(HEAD.update().values(seq=0, purged=0))
    engine.dispose()
