# SPDX-License-Identifier: Apache-2.0
"""SQL backend (SQLAlchemy 2): SQLite, PostgreSQL and MariaDB/MySQL."""

from freezer_api.storage.sql.backend import SqlBackend
from freezer_api.storage.sql.store import SqlStorage

__all__ = ["SqlBackend", "SqlStorage"]
