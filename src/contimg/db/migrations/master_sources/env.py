"""Alembic environment for this database: see contimg.db.migrations.env_common."""

from alembic import context

from contimg.db.migrations.env_common import run_migrations

run_migrations(context)
