# SPDX-License-Identifier: Apache-2.0
"""Backup documents stored with ``backup_metadata`` as their last key.

Answers embed a backup's metadata as stored (``jsonfast.reader_keeping``), which needs it
to be the document's last key. Documents now are always written so; this rewrites those an
earlier version left otherwise (a seed-API backup later changed through v2 kept ``status``
after it). SQLite and MariaDB keep the JSON text as written; PostgreSQL (jsonb) and MySQL
keep JSON in their own form, which is read whole: nothing to do there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from freezer_api import jsonfast
from freezer_api.storage.sql.engine import STORED_LAST

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    connection = op.get_bind()
    dialect = connection.dialect
    if dialect.name != "sqlite" and not getattr(dialect, "is_mariadb", False):
        return
    read = sa.text("SELECT pk, doc FROM backups WHERE pk > :after ORDER BY pk LIMIT :batch")
    change = sa.text("UPDATE backups SET doc = :doc WHERE pk = :pk")
    after = 0
    while rows := connection.execute(read, {"after": after, "batch": BATCH}).all():
        after = rows[-1][0]
        changed = []
        for pk, text in rows:
            document = jsonfast.loads(text)
            reordered = jsonfast.with_key_last(document, STORED_LAST)
            if reordered is not document:
                changed.append({"pk": pk, "doc": jsonfast.dumps(reordered)})
        if changed:
            connection.execute(change, changed)


def downgrade() -> None:
    """Nothing to undo: the documents hold the same keys and values."""
