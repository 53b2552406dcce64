"""The Alembic environment shared by the four databases' migration histories.

contimg drives Alembic programmatically (see :mod:`contimg.db.migrations`): the
caller opens the connection, starts the transaction (``BEGIN IMMEDIATE`` on
SQLite, an advisory lock on PostgreSQL) and passes the connection in
``config.attributes``; the whole check-and-migrate runs in that one transaction.
"""

from __future__ import annotations

from typing import Any


def run_migrations(context: Any) -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "contimg migrations run through 'contimg db upgrade', not the alembic command"
        )
    context.configure(
        connection=connection,
        version_table_schema=config.attributes.get("schema"),
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()
