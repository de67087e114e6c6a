# SPDX-License-Identifier: Apache-2.0
"""Backups.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(length=255).with_variant(
    mysql.VARCHAR(255, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)
FLAG = sa.String(length=32).with_variant(
    mysql.VARCHAR(32, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)
PRIMARY_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def document_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    """Columns every kind's table starts with."""
    return [
        sa.Column("pk", PRIMARY_KEY, autoincrement=True, nullable=False, primary_key=True),
        sa.Column("doc_id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "backups",
        *document_columns(),
        sa.Column("user_name", ID, nullable=True),
        sa.Column("status", FLAG, nullable=True),
        sa.Column("container", ID, nullable=True),
        sa.Column("hostname", ID, nullable=True),
        sa.Column("backup_name", ID, nullable=True),
        sa.Column("time_stamp", sa.BigInteger(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("job_id", ID, nullable=True),
        sa.UniqueConstraint("user_id", "doc_id", name="uq_backups_user_doc"),
    )
    indexes = {
        "ix_backups_doc_id": ["doc_id"],
        "ix_backups_project_pk": ["project_id", "pk"],
        "ix_backups_user_pk": ["user_id", "pk"],
        "ix_backups_project_name": ["project_id", "backup_name", "pk"],
        "ix_backups_project_host": ["project_id", "hostname", "pk"],
        "ix_backups_project_container": ["project_id", "container", "pk"],
        "ix_backups_project_time": ["project_id", "time_stamp"],
        "ix_backups_user_name": ["user_id", "backup_name", "pk"],
        "ix_backups_user_host": ["user_id", "hostname", "pk"],
    }
    for name, columns in indexes.items():
        op.create_index(name, "backups", columns)


def downgrade() -> None:
    op.drop_table("backups")
