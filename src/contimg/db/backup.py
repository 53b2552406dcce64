"""Consistent copies of the SQLite databases while the pipeline runs.

:func:`backup_sqlite` uses SQLite's online backup API (``sqlite3.Connection.backup``):
the copy is one snapshot of the database as of one committed transaction, taken
under a read transaction, so writers (in WAL mode) are not stopped and no
half-written transaction is ever copied. A copy of the file with ``cp`` while a
writer works can be torn, and misses whatever still sits in the ``-wal`` file.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from contimg.config import DATABASE_NAMES, SQLITE_FILES, Settings
from contimg.errors import ContimgError


@dataclass(frozen=True)
class BackupResult:
    name: str
    source: Path
    dest: Path
    bytes: int
    integrity: str


def backup_sqlite(source: Path, dest: Path) -> int:
    """Copy the live SQLite database ``source`` to ``dest`` (replaced atomically);
    returns the copy's size in bytes."""
    if not source.is_file():
        raise ContimgError(f"database {source} does not exist; nothing to back up")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        out = sqlite3.connect(partial)
        try:
            src.backup(out)  # pages=-1: the whole database in one step, one snapshot
            out.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file
        finally:
            out.close()
    finally:
        src.close()
    os.replace(partial, dest)
    return dest.stat().st_size


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of a SQLite file: 'ok' or the first problem."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        con.close()


def backup_all(
    settings: Settings, dest: Path, names: list[str] | None = None
) -> list[BackupResult]:
    """Back up the deployment's SQLite databases into directory ``dest``, with the state
    directory's layout (``ingest.sqlite3``, ``db/master_sources.sqlite3``...), and check
    each copy's integrity."""
    if settings.backend != "sqlite":
        raise ContimgError(
            "contimg db backup copies SQLite files; this deployment uses PostgreSQL "
            "(CONTIMG_DATABASE_URL): back it up with pg_dump (docs/operations.md)"
        )
    dest = dest.resolve()
    if dest == settings.state_path.resolve():
        raise ContimgError(f"the backup directory {dest} is the state directory itself")
    results = []
    for name in names or list(DATABASE_NAMES):
        source = settings.sqlite_path(name)
        target = dest / SQLITE_FILES[name]
        size = backup_sqlite(source, target)
        results.append(BackupResult(name, source, target, size, integrity(target)))
    return results
