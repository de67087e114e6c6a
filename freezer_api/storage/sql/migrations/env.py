# SPDX-License-Identifier: Apache-2.0
"""Alembic environment: runs on the engine handed over by ``freezer_api.storage.sql.migrate``."""

from alembic import context

from freezer_api.storage.sql.models import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
