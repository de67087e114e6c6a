# SPDX-License-Identifier: Apache-2.0
"""Clients, jobs, actions and sessions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import importlib

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(length=255).with_variant(
    mysql.VARCHAR(255, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)
FLAG = sa.String(length=32).with_variant(
    mysql.VARCHAR(32, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)
document_columns = importlib.import_module(
    "freezer_api.storage.sql.migrations.versions.0001_backups"
).document_columns


def create(table: str, columns: list[sa.Column], unique: list[str], indexes: dict) -> None:  # type: ignore[type-arg]
    op.create_table(
        table,
        *document_columns(),
        *columns,
        sa.UniqueConstraint(
            *unique, name=f"uq_{table}_{'_'.join(c.split('_')[0] for c in unique)}"
        ),
    )
    indexes = {
        f"ix_{table}_project_pk": ["project_id", "pk"],
        f"ix_{table}_user_pk": ["user_id", "pk"],
        **indexes,
    }
    for name, index_columns in indexes.items():
        op.create_index(name, table, index_columns)


def upgrade() -> None:
    create(
        "clients",
        [
            sa.Column("hostname", ID, nullable=True),
            sa.Column("is_central", sa.Boolean(), nullable=False),
        ],
        ["project_id", "doc_id"],
        {"ix_clients_doc_id": ["doc_id"], "ix_clients_central": ["is_central", "pk"]},
    )
    create(
        "jobs",
        [
            sa.Column("client_id", ID, nullable=True),
            sa.Column("session_id", ID, nullable=True),
            sa.Column("status", FLAG, nullable=True),
            sa.Column("event", FLAG, nullable=True),
            sa.Column("result", FLAG, nullable=True),
        ],
        ["doc_id"],
        {
            "ix_jobs_project_client": ["project_id", "client_id", "pk"],
            "ix_jobs_user_client": ["user_id", "client_id", "pk"],
            "ix_jobs_client": ["client_id", "pk"],
            "ix_jobs_project_session": ["project_id", "session_id"],
        },
    )
    create(
        "actions",
        [
            sa.Column("action", FLAG, nullable=True),
            sa.Column("mode", FLAG, nullable=True),
            sa.Column("backup_name", ID, nullable=True),
        ],
        ["doc_id"],
        {"ix_actions_project_name": ["project_id", "backup_name", "pk"]},
    )
    create("sessions", [sa.Column("status", FLAG, nullable=True)], ["doc_id"], {})


def downgrade() -> None:
    for table in ("sessions", "actions", "jobs", "clients"):
        op.drop_table(table)
