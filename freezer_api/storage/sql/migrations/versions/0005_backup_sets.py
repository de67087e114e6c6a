# SPDX-License-Identifier: Apache-2.0
"""Backup sets: a key per (hostname, backup_name, container), indexed with time and level.

A backup set is a project's backups of one hostname, backup_name and container; its chains
and restore points are read by index seeks on (project_id, set_key, time_stamp) and
(project_id, set_key, level, time_stamp), the containers of a host's backups of one name on
(project_id, name_key, container). ``set_key`` and ``name_key`` are digests of the names
(``freezer_api.storage.base``): the names themselves are too long together for one InnoDB
index key. Existing backups get theirs here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from freezer_api.storage.base import name_key, set_key

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    op.add_column("backups", sa.Column("set_key", sa.String(40), nullable=True))
    op.add_column("backups", sa.Column("name_key", sa.String(40), nullable=True))
    connection = op.get_bind()
    read = sa.text(
        "SELECT pk, hostname, backup_name, container FROM backups "
        "WHERE pk > :after ORDER BY pk LIMIT :batch"
    )
    change = sa.text("UPDATE backups SET set_key = :key, name_key = :name WHERE pk = :pk")
    after = 0
    while rows := connection.execute(read, {"after": after, "batch": BATCH}).all():
        after = rows[-1][0]
        keys = [
            {"pk": row[0], "key": set_key(*row[1:]), "name": name_key(row[1], row[2])}
            for row in rows
        ]
        connection.execute(change, keys)
    op.create_index("ix_backups_set_time", "backups", ["project_id", "set_key", "time_stamp", "pk"])
    op.create_index(
        "ix_backups_set_level", "backups", ["project_id", "set_key", "level", "time_stamp", "pk"]
    )
    op.create_index("ix_backups_name_container", "backups", ["project_id", "name_key", "container"])


def downgrade() -> None:
    op.drop_index("ix_backups_name_container", "backups")
    op.drop_index("ix_backups_set_level", "backups")
    op.drop_index("ix_backups_set_time", "backups")
    op.drop_column("backups", "name_key")
    op.drop_column("backups", "set_key")
