# SPDX-License-Identifier: Apache-2.0
"""The change feed: an event per create, update and delete, in commit order.

``event_head`` holds the last sequence number handed out and the last one purged, in one
row that every writing transaction updates last (PostgreSQL, MariaDB): the numbers are
taken in the order the transactions commit.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from freezer_api.storage.sql.models import Flag, Name, PrimaryKey

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", PrimaryKey, primary_key=True, autoincrement=True),
        sa.Column("project_id", Name, nullable=False),
        sa.Column("kind", Flag, nullable=False),
        sa.Column("doc_id", Name, nullable=False),
        sa.Column("operation", Flag, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("user_id", Name, nullable=True),
        sqlite_autoincrement=True,
        mysql_engine="InnoDB",
    )
    op.create_index("ix_events_project_seq", "events", ["project_id", "seq"])
    op.create_index("ix_events_time", "events", ["time"])
    head = op.create_table(
        "event_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("purged", sa.BigInteger, nullable=False),
        mysql_engine="InnoDB",
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "purged": 0}])


def downgrade() -> None:
    op.drop_table("event_head")
    op.drop_index("ix_events_time", "events")
    op.drop_index("ix_events_project_seq", "events")
    op.drop_table("events")
