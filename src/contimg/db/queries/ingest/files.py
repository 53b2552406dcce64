"""SQL of the ingest file log: every subband file the watcher has seen (waiting,
accepted into a group or rejected) and the files it ignores.

Functions take a ``Connection`` inside the caller's transaction and run on SQLite and
PostgreSQL (see :mod:`contimg.db.queries.ingest`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.ingest import ingest_files, ingest_ignored

_CHUNK = 500

f = ingest_files.c


@dataclass(frozen=True)
class FileRow:
    file_path: str
    file_name: str
    subband_idx: int
    obs_time: float
    file_size: int | None
    stable_count: int
    status: str
    reason: str | None
    group_id: str | None
    last_checked_at: float


@dataclass(frozen=True, slots=True)
class FileLogRow:
    """A whole ``ingest_files`` row (columns in table order)."""

    file_path: str
    file_name: str
    subband_idx: int
    obs_time: float
    file_size: int | None
    stable_count: int
    status: str
    reason: str | None
    group_id: str | None
    dec_deg: float | None
    start_jd: float | None
    end_jd: float | None
    first_seen_at: float
    last_checked_at: float


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def known_ignored(conn: Connection, *, paths: Sequence[str]) -> set[str]:
    """Which of ``paths`` are already in the ignored-file log."""
    found: set[str] = set()
    for chunk in _chunks(paths):
        rows = conn.execute(
            sa.select(ingest_ignored.c.file_path).where(ingest_ignored.c.file_path.in_(chunk))
        )
        found.update(r[0] for r in rows)
    return found


def log_ignored(conn: Connection, *, path: str, reason: str, now: float) -> bool:
    """Record an ignored file; True if it was not known yet (so the caller logs it once)."""
    exists = conn.execute(
        sa.select(ingest_ignored.c.file_path).where(ingest_ignored.c.file_path == path)
    ).first()
    if exists:
        return False
    conn.execute(ingest_ignored.insert().values(file_path=path, reason=reason, first_seen_at=now))
    return True


def file_rows(conn: Connection, *, paths: Sequence[str]) -> dict[str, FileRow]:
    """The file-log rows of ``paths`` (absent paths are not in the result)."""
    out: dict[str, FileRow] = {}
    cols = [
        f.file_path,
        f.file_name,
        f.subband_idx,
        f.obs_time,
        f.file_size,
        f.stable_count,
        f.status,
        f.reason,
        f.group_id,
        f.last_checked_at,
    ]
    for chunk in _chunks(paths):
        for r in conn.execute(sa.select(*cols).where(f.file_path.in_(chunk))):
            out[r.file_path] = FileRow(*r)
    return out


def waiting_paths(conn: Connection) -> list[str]:
    """Files seen but not taken yet (size not yet stable)."""
    return [r[0] for r in conn.execute(sa.select(f.file_path).where(f.status == "waiting"))]


def observe_file(
    conn: Connection,
    *,
    path: str,
    name: str,
    subband_idx: int,
    obs_time: float,
    size: int,
    now: float,
    min_interval_s: float = 0.0,
) -> int:
    """Record one size check of a waiting file; returns its count of equal consecutive sizes.

    An unchanged size counts as a new check only ``min_interval_s`` after the
    previous one. Files already accepted or rejected are left alone (returns 0).
    """
    row = conn.execute(
        sa.select(f.file_size, f.stable_count, f.status, f.last_checked_at).where(
            f.file_path == path
        )
    ).first()
    if row is None:
        conn.execute(
            ingest_files.insert().values(
                file_path=path,
                file_name=name,
                subband_idx=subband_idx,
                obs_time=obs_time,
                file_size=size,
                stable_count=1,
                status="waiting",
                first_seen_at=now,
                last_checked_at=now,
            )
        )
        return 1
    if row.status != "waiting":
        return 0
    if row.file_size == size and now - float(row.last_checked_at) < min_interval_s:
        return int(row.stable_count)
    count = int(row.stable_count) + 1 if row.file_size == size else 1
    conn.execute(
        ingest_files.update()
        .where(f.file_path == path)
        .values(file_size=size, stable_count=count, last_checked_at=now)
    )
    return count


def insert_waiting(conn: Connection, *, rows: Sequence[dict[str, Any]], now: float) -> None:
    """First sight of new subband files (one executemany). Each row: ``file_path``,
    ``file_name``, ``subband_idx``, ``obs_time``, ``file_size``."""
    if rows:
        conn.execute(
            ingest_files.insert(),
            [
                {
                    **r,
                    "stable_count": 1,
                    "status": "waiting",
                    "first_seen_at": now,
                    "last_checked_at": now,
                }
                for r in rows
            ],
        )


def update_checks(conn: Connection, *, rows: Sequence[dict[str, Any]], now: float) -> None:
    """Record new size checks of waiting files (one executemany). Each row:
    ``path``, ``size``, ``count``."""
    if rows:
        stmt = (
            ingest_files.update()
            .where(f.file_path == sa.bindparam("path"), f.status == "waiting")
            .values(
                file_size=sa.bindparam("size"),
                stable_count=sa.bindparam("count"),
                last_checked_at=now,
            )
        )
        conn.execute(stmt, list(rows))


def forget_waiting(conn: Connection, *, path: str) -> None:
    """Drop a waiting file that disappeared before it was taken."""
    conn.execute(ingest_files.delete().where(f.file_path == path, f.status == "waiting"))


def set_file_outcome(
    conn: Connection,
    *,
    path: str,
    status: str,
    group_id: str | None,
    reason: str | None = None,
    size: int | None = None,
    dec_deg: float | None = None,
    start_jd: float | None = None,
    end_jd: float | None = None,
    now: float,
) -> None:
    values: dict[str, Any] = {
        "status": status,
        "group_id": group_id,
        "reason": reason,
        "dec_deg": dec_deg,
        "start_jd": start_jd,
        "end_jd": end_jd,
        "last_checked_at": now,
    }
    if size is not None:
        values["file_size"] = size
    conn.execute(ingest_files.update().where(f.file_path == path).values(**values))


def file_status(conn: Connection, *, path: str) -> str | None:
    return conn.execute(sa.select(f.status).where(f.file_path == path)).scalar()


def groups_near(
    conn: Connection, *, obs_time: float, tolerance_s: float
) -> list[tuple[str, float, float]]:
    """Groups with a file within ``tolerance_s`` of ``obs_time``: (group_id, min, max) of
    the obs_time of ALL their files."""
    near = (
        sa.select(f.group_id)
        .where(
            f.group_id.is_not(None),
            f.obs_time >= obs_time - tolerance_s,
            f.obs_time <= obs_time + tolerance_s,
        )
        .distinct()
        .scalar_subquery()
    )
    rows = conn.execute(
        sa.select(f.group_id, sa.func.min(f.obs_time), sa.func.max(f.obs_time))
        .where(f.group_id.in_(near))
        .group_by(f.group_id)
        .order_by(f.group_id)
    )
    return [(str(g), float(lo), float(hi)) for g, lo, hi in rows]


def group_file_rows(conn: Connection, *, group_id: str) -> list[FileLogRow]:
    """Every file-log row of a group (accepted and rejected), by subband."""
    rows = conn.execute(
        sa.select(ingest_files).where(f.group_id == group_id).order_by(f.subband_idx, f.obs_time)
    )
    return [FileLogRow(**r._mapping) for r in rows]


def rejected_files(conn: Connection, *, group_id: str) -> list[FileLogRow]:
    rows = conn.execute(
        sa.select(ingest_files)
        .where(f.group_id == group_id, f.status == "rejected")
        .order_by(f.subband_idx)
    )
    return [FileLogRow(**r._mapping) for r in rows]
