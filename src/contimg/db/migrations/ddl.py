"""Helpers for migrations that run SQL scripts."""

from __future__ import annotations

from alembic import op


def split_sql(script: str) -> list[str]:
    """Split a DDL script into statements (on ``;`` at the end of a line).

    Meant for the DDL kept in migrations, where no string literal holds ``;``.
    """
    statements: list[str] = []
    current: list[str] = []
    for line in script.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            statement = "\n".join(current).strip().rstrip(";").strip()
            if statement:
                statements.append(statement)
            current = []
    tail = "\n".join(current).strip()
    if tail and not all(t.strip().startswith("--") or not t.strip() for t in current):
        statements.append(tail)
    return statements


def run_script(script: str) -> None:
    """Execute every statement of ``script`` in the migration's transaction."""
    for statement in split_sql(script):
        op.execute(statement)


def dialect() -> str:
    return str(op.get_bind().dialect.name)
