"""Bulk inserts at driver speed, for the hot paths (photometry rows, catalog builds).

SQLAlchemy's per-row parameter processing costs several times more than SQLite's
own ``executemany``; PostgreSQL's ``COPY`` is an order of magnitude faster than
row-wise inserts. Both run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def dialect_insert(conn: Connection, table: sa.Table) -> Any:
    """``INSERT`` for ``table`` in the connection's dialect, which has
    ``on_conflict_do_nothing`` / ``on_conflict_do_update`` (SQLite or PostgreSQL)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return insert(table)


def insert_many(
    conn: Connection, table: sa.Table, *, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; return the count.

    Column names are checked against the Table object, so no caller-supplied text
    reaches the SQL.
    """
    unknown = [c for c in columns if c not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {', '.join(unknown)}")
    cols = ", ".join(columns)
    if conn.dialect.name == "sqlite":
        data = rows if isinstance(rows, list) else list(rows)
        if data:
            marks = ", ".join("?" * len(columns))
            conn.exec_driver_sql(f"INSERT INTO {table.name} ({cols}) VALUES ({marks})", data)
        return len(data)
    raw: Any = conn.connection.driver_connection  # a psycopg.Connection
    n = 0
    with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
        for n, row in enumerate(rows, start=1):  # noqa: B007 - n is the count
            copy.write_row(row)
    return n
