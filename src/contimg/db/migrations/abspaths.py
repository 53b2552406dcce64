"""Data migrations that make stored relative file paths absolute (issue 19).

Before contimg resolved its directories once in :mod:`contimg.config`, a relative
``--home`` / ``--products-dir`` (or ``CONTIMG_*`` variable) stored paths relative to
the working directory of the process that wrote them (``demo-data/products/...``).
The migrations ``products_0006``, ``ingest_0004`` and ``cal_registry_0002`` rewrite
every such path to the absolute, normalised path of the file, symbolic links
resolved.

Where is a relative path relative to? The working directory of the writer, which is
not recorded. The file is looked for under these bases, first hit wins:

1. the parent of the deployment's home and the home itself (the ``--home`` /
   ``CONTIMG_HOME`` of the ``contimg db upgrade`` run, when the caller passes it);
2. for SQLite, the parent of the home the database file lies in (its state
   directory's parent) and that home;
3. the current working directory.

A path whose file is found under no base is left as it is and reported (one line per
table and column, with up to five examples) in the upgrade's output: move the files
back, or run ``contimg db upgrade`` from the directory the pipeline ran in.

Rows referenced by a foreign key (``ms_index.path``, ``images.path``) are re-keyed by
insert-copy, move the children, delete the old row, so the constraints hold at
every statement on both SQLite and PostgreSQL. The downgrade keeps the absolute
paths (they name the same files; the relative ones were ambiguous).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from contimg.config import SQLITE_FILES


def _attributes() -> dict[str, object]:
    env = op.get_context().environment_context
    return env.config.attributes if env is not None else {}


def bases() -> list[Path]:
    """The directories a stored relative path is looked up under, in order."""
    found: list[Path] = []
    attrs = _attributes()
    given = attrs.get("path_bases")
    if isinstance(given, list | tuple):
        found += [Path(p) for p in given]
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for row in bind.execute(sa.text("PRAGMA database_list")):
            if row[1] == "main" and row[2]:
                db_file = Path(row[2]).resolve()
                state = db_file.parent
                if any(
                    v.startswith("db/") and v.endswith(db_file.name) for v in SQLITE_FILES.values()
                ):
                    state = state.parent
                home = state.parent
                found += [home.parent, home]
    found.append(Path(os.getcwd()))
    unique: list[Path] = []
    for b in found:
        b = b.resolve()
        if b not in unique:
            unique.append(b)
    return unique


class Resolver:
    """Maps stored relative paths to absolute ones; remembers what it could not find."""

    def __init__(self) -> None:
        self.bases = bases()
        self.cache: dict[str, str | None] = {}
        self.missing: dict[str, list[str]] = {}

    def __call__(self, stored: str, where: str) -> str | None:
        if stored in self.cache:
            new = self.cache[stored]
        else:
            new = None
            for base in self.bases:
                candidate = base / stored
                if os.path.lexists(candidate):
                    new = str(candidate.resolve())
                    break
            self.cache[stored] = new
        if new is None:
            self.missing.setdefault(where, []).append(stored)
        return new

    def report(self) -> None:
        """Add one line per table.column with unresolved paths to the upgrade's notes."""
        notes = _attributes().setdefault("notes", [])
        assert isinstance(notes, list)
        tried = ", ".join(str(b) for b in self.bases)
        for where, paths in self.missing.items():
            examples = ", ".join(paths[:5]) + (", ..." if len(paths) > 5 else "")
            why = "" if "already stored" in where else f", no file found under {tried}"
            notes.append(
                f"{where}: {len(paths)} relative path(s) left as they are{why}: {examples}"
            )


def relative_values(table: str, column: str) -> list[str]:
    """Distinct non-null values of ``table.column`` that are not absolute paths."""
    rows = op.get_bind().execute(
        sa.text(
            f"SELECT DISTINCT {column} FROM {table} "
            f"WHERE {column} IS NOT NULL AND {column} NOT LIKE '/%'"
        )
    )
    return [str(r[0]) for r in rows if r[0] != ""]


def rewrite(table: str, column: str, resolve: Resolver, *, unique: bool = False) -> dict[str, str]:
    """Rewrite a column no foreign key refers to; returns old -> new. For a ``unique``
    column, a row whose absolute path is already stored is kept as it is (reported)."""
    bind = op.get_bind()
    done: dict[str, str] = {}
    for old in relative_values(table, column):
        new = resolve(old, f"{table}.{column}")
        if new is None:
            continue
        if (
            unique
            and bind.execute(
                sa.text(f"SELECT 1 FROM {table} WHERE {column} = :new"), {"new": new}
            ).first()
        ):
            resolve.missing.setdefault(
                f"{table}.{column} (absolute path already stored)", []
            ).append(old)
            continue
        bind.execute(
            sa.text(f"UPDATE {table} SET {column} = :new WHERE {column} = :old"),
            {"new": new, "old": old},
        )
        done[old] = new
    return done


def rekey(
    table: str,
    column: str,
    columns: Sequence[str],
    children: Sequence[tuple[str, str]],
    resolve: Resolver,
    *,
    id_column: str | None = None,
) -> dict[str, str]:
    """Rewrite a key column that ``children`` (table, column) refer to by foreign key.

    Each row is copied under its new key, the children are moved to it, the old row
    is deleted; with ``id_column`` (a surrogate primary key beside a unique path) the
    copy first takes a temporary negative id and then gets the original id back.
    """
    bind = op.get_bind()
    done: dict[str, str] = {}
    others = [c for c in columns if c not in (column, id_column)]
    for old in relative_values(table, column):
        new = resolve(old, f"{table}.{column}")
        if new is None:
            continue
        params: dict[str, object] = {"new": new, "old": old}
        if bind.execute(sa.text(f"SELECT 1 FROM {table} WHERE {column} = :new"), params).first():
            resolve.missing.setdefault(
                f"{table}.{column} (absolute path already stored)", []
            ).append(old)
            continue
        cols = [column, *others]
        vals = [":new", *others]
        if id_column is not None:
            old_id = bind.execute(
                sa.text(f"SELECT {id_column} FROM {table} WHERE {column} = :old"), params
            ).scalar_one()
            params["tmp"] = -int(old_id)
            params["id"] = int(old_id)
            cols.insert(0, id_column)
            vals.insert(0, ":tmp")
        bind.execute(
            sa.text(
                f"INSERT INTO {table} ({', '.join(cols)}) "
                f"SELECT {', '.join(vals)} FROM {table} WHERE {column} = :old"
            ),
            params,
        )
        for child, child_column in children:
            bind.execute(
                sa.text(f"UPDATE {child} SET {child_column} = :new WHERE {child_column} = :old"),
                params,
            )
        bind.execute(sa.text(f"DELETE FROM {table} WHERE {column} = :old"), params)
        if id_column is not None:
            bind.execute(
                sa.text(f"UPDATE {table} SET {id_column} = :id WHERE {id_column} = :tmp"), params
            )
        done[old] = new
    return done


def run(steps: Callable[[Resolver], None]) -> None:
    """Run ``steps`` with a fresh resolver and report what could not be resolved."""
    resolve = Resolver()
    steps(resolve)
    resolve.report()
