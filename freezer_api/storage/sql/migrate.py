# SPDX-License-Identifier: Apache-2.0
"""Schema migrations with Alembic: the only way the schema is created or changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from freezer_api.storage.sql import engine as engines

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head() -> str:
    """Return the newest revision the code knows."""
    script = ScriptDirectory(str(MIGRATIONS))
    revision = script.get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    """Return the database's revision, or None when it has no schema yet."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; does nothing when it is already there.

    On SQLite the database's write lock is held: processes that start together (uwsgi's
    lazy apps) upgrade one after the other, and the later ones find nothing to do.
    """
    lock = engines.write_lock(engine.url.render_as_string(hide_password=False))
    lock.acquire()
    try:
        command.upgrade(_config(engine), revision)
    finally:
        lock.release()
        lock.close()


def upgrade_url(url: str, options: dict[str, Any] | None = None) -> None:
    engine = engines.create_db_engine(url, options or {})
    try:
        upgrade(engine)
    finally:
        engine.dispose()
