# SPDX-License-Identifier: Apache-2.0
"""Ids and names compare exactly on MariaDB and MySQL: no trailing-space padding.

MariaDB's ``utf8mb4_bin`` (and MySQL's) is a PAD SPACE collation: ``'etc' = 'etc '`` is
true, so ``GET .../backups/<id>%20`` found the backup and ``?backup_name=etc`` found
``"etc "``. ``utf8mb4_nopad_bin`` (MariaDB) and ``utf8mb4_0900_bin`` (MySQL 8) compare
exactly, as SQLite and PostgreSQL do. The columns are found in the database itself, so
that later revisions of the models do not change what this one does. The other engines:
nothing to do.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("backups", "clients", "jobs", "actions", "sessions")
COLUMNS = sa.text(
    "SELECT TABLE_NAME, COLUMN_NAME, CHARACTER_MAXIMUM_LENGTH, IS_NULLABLE "
    "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
    "AND DATA_TYPE = 'varchar' AND COLLATION_NAME = :collation AND TABLE_NAME IN :tables "
    "ORDER BY TABLE_NAME, ORDINAL_POSITION"
).bindparams(sa.bindparam("tables", expanding=True))


def _recollate(source: str, target: str) -> None:
    connection = op.get_bind()
    if connection.dialect.name not in ("mysql", "mariadb"):
        return
    found: dict[str, list[str]] = {}
    for table, column, length, nullable in connection.execute(
        COLUMNS, {"collation": source, "tables": list(TABLES)}
    ):
        null = "NULL" if nullable == "YES" else "NOT NULL"
        found.setdefault(table, []).append(
            f"MODIFY `{column}` VARCHAR({length}) CHARACTER SET utf8mb4 COLLATE {target} {null}"
        )
    for table, changes in found.items():
        op.execute(f"ALTER TABLE `{table}` " + ", ".join(changes))


def _exact() -> str:
    return (
        "utf8mb4_nopad_bin"
        if getattr(op.get_bind().dialect, "is_mariadb", False)
        else ("utf8mb4_0900_bin")
    )


def upgrade() -> None:
    _recollate("utf8mb4_bin", _exact())


def downgrade() -> None:
    _recollate(_exact(), "utf8mb4_bin")
