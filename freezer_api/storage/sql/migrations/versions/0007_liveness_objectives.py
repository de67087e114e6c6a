# SPDX-License-Identifier: Apache-2.0
"""A client's last contact, and freshness objectives.

``clients.last_seen`` starts empty: a client is "never seen" until its scheduler next polls,
registers or updates a job (nothing is guessed for the time before).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from freezer_api.storage.sql.models import Name, PrimaryKey

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("clients", sa.Column("last_seen", sa.BigInteger, nullable=True))
    op.create_table(
        "objectives",
        sa.Column("pk", PrimaryKey, autoincrement=True, nullable=False, primary_key=True),
        sa.Column("doc_id", Name, nullable=False),
        sa.Column("project_id", Name, nullable=False),
        sa.Column("user_id", Name, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.UniqueConstraint("doc_id", name="uq_objectives_doc"),
        mysql_engine="InnoDB",
    )
    op.create_index("ix_objectives_project_pk", "objectives", ["project_id", "pk"])
    op.create_index("ix_objectives_user_pk", "objectives", ["user_id", "pk"])


def downgrade() -> None:
    op.drop_index("ix_objectives_user_pk", "objectives")
    op.drop_index("ix_objectives_project_pk", "objectives")
    op.drop_table("objectives")
    op.drop_column("clients", "last_seen")
