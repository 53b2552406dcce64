"""SQL of the ingest database: the queue, subband files, performance metrics, file log.

Every function takes a ``Connection`` inside a transaction opened by the caller
(``Database.write()`` for changes) and runs on SQLite and PostgreSQL. Worker
transitions are conditional on the lease owner, so a worker that lost its lease
cannot overwrite what another worker did.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.ingest import (
    ingest_files,
    ingest_ignored,
    ingest_queue,
    performance_metrics,
    subband_files,
)
from contimg.models import GROUP_STATES

STATES: tuple[str, ...] = GROUP_STATES
ACTIVE_STATES: tuple[str, ...] = ("in_progress", "processing_fresh")
STAGE_COLUMNS: tuple[str, ...] = (
    "conversion_time",
    "concat_time",
    "k_solve_time",
    "bp_solve_time",
    "g_solve_time",
    "imaging_time",
    "photometry_time",
)
"""``performance_metrics`` columns that hold one stage's seconds."""

_CHUNK = 500

q = ingest_queue.c
f = ingest_files.c


# --- the file log -------------------------------------------------------------------


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


def group_file_rows(conn: Connection, *, group_id: str) -> list[dict[str, Any]]:
    """Every file-log row of a group (accepted and rejected), by subband."""
    rows = conn.execute(
        sa.select(ingest_files).where(f.group_id == group_id).order_by(f.subband_idx, f.obs_time)
    )
    return [dict(r._mapping) for r in rows]


def rejected_files(conn: Connection, *, group_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(ingest_files)
        .where(f.group_id == group_id, f.status == "rejected")
        .order_by(f.subband_idx)
    )
    return [dict(r._mapping) for r in rows]


# --- groups -------------------------------------------------------------------------


def group_row(conn: Connection, *, group_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(ingest_queue).where(q.group_id == group_id)).first()
    return None if row is None else dict(row._mapping)


def group_state(conn: Connection, *, group_id: str) -> str | None:
    return conn.execute(sa.select(q.state).where(q.group_id == group_id)).scalar()


def create_group(conn: Connection, *, group_id: str, expected_subbands: int, now: float) -> None:
    conn.execute(
        ingest_queue.insert().values(
            group_id=group_id,
            state="collecting",
            received_at=now,
            last_update=now,
            expected_subbands=expected_subbands,
            retry_count=0,
        )
    )


def rename_group(conn: Connection, *, old: str, new: str) -> None:
    """Give a collecting group a new id, moving its subband and file-log rows with it."""
    row = group_row(conn, group_id=old)
    assert row is not None
    row["group_id"] = new
    conn.execute(ingest_queue.insert().values(**row))
    conn.execute(subband_files.update().where(subband_files.c.group_id == old).values(group_id=new))
    conn.execute(ingest_files.update().where(f.group_id == old).values(group_id=new))
    conn.execute(
        performance_metrics.delete().where(performance_metrics.c.group_id == old)
    )  # none while collecting; keeps the FK satisfiable
    conn.execute(ingest_queue.delete().where(q.group_id == old))


def group_exists(conn: Connection, *, group_id: str) -> bool:
    return conn.execute(sa.select(q.group_id).where(q.group_id == group_id)).first() is not None


def subband_entry(conn: Connection, *, group_id: str, subband_idx: int) -> str | None:
    """The file path registered for a subband of a group, if any."""
    return conn.execute(
        sa.select(subband_files.c.file_path).where(
            subband_files.c.group_id == group_id, subband_files.c.subband_idx == subband_idx
        )
    ).scalar()


def add_subband(
    conn: Connection, *, group_id: str, subband_idx: int, path: str, size: int, now: float
) -> None:
    conn.execute(
        subband_files.insert().values(
            group_id=group_id,
            subband_idx=subband_idx,
            file_path=path,
            file_size=size,
            discovered_at=now,
        )
    )


def subbands(conn: Connection, *, group_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(subband_files)
        .where(subband_files.c.group_id == group_id)
        .order_by(subband_files.c.subband_idx)
    )
    return [dict(r._mapping) for r in rows]


def subband_count(conn: Connection, *, group_id: str) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count()).where(subband_files.c.group_id == group_id)
        ).scalar_one()
    )


def set_state(
    conn: Connection,
    *,
    group_id: str,
    state: str,
    now: float,
    error_message: str | EllipsisType | None = ...,
    from_states: Sequence[str] | None = None,
    next_attempt_at: float | EllipsisType | None = ...,
) -> bool:
    """Move a group to ``state`` (only from ``from_states`` when given); True if it moved."""
    values: dict[str, Any] = {"state": state, "last_update": now}
    if error_message is not ...:
        values["error_message"] = error_message
    if next_attempt_at is not ...:
        values["next_attempt_at"] = next_attempt_at
    stmt = ingest_queue.update().where(q.group_id == group_id)
    if from_states is not None:
        stmt = stmt.where(q.state.in_(list(from_states)))
    return conn.execute(stmt.values(**values)).rowcount == 1


def set_calibrators(
    conn: Connection, *, group_id: str, calibrators: Sequence[Mapping[str, Any]]
) -> None:
    """Store the calibrators matched for ``group_id`` (a JSON array of records)."""
    conn.execute(
        ingest_queue.update()
        .where(q.group_id == group_id)
        .values(
            has_calibrator=1 if calibrators else 0,
            calibrators=json.dumps([dict(c) for c in calibrators]),
        )
    )


def stale_collecting(conn: Connection, *, received_before: float) -> list[str]:
    """Collecting groups whose first file was received before ``received_before``."""
    rows = conn.execute(
        sa.select(q.group_id)
        .where(q.state == "collecting", q.received_at < received_before)
        .order_by(q.received_at)
    )
    return [r[0] for r in rows]


def reset_for_retry(conn: Connection, *, group_id: str, now: float) -> bool:
    """Put a failed group back to pending with a fresh retry budget."""
    stmt = (
        ingest_queue.update()
        .where(q.group_id == group_id, q.state == "failed")
        .values(
            state="pending",
            retry_count=0,
            error_message=None,
            next_attempt_at=None,
            lease_owner=None,
            lease_expires_at=None,
            last_update=now,
        )
    )
    return conn.execute(stmt).rowcount == 1


def failed_groups(conn: Connection) -> list[str]:
    rows = conn.execute(sa.select(q.group_id).where(q.state == "failed").order_by(q.group_id))
    return [r[0] for r in rows]


def count_by_state(conn: Connection) -> dict[str, int]:
    rows = conn.execute(sa.select(q.state, sa.func.count()).group_by(q.state))
    counts = dict.fromkeys(STATES, 0)
    counts.update({str(s): int(n) for s, n in rows})
    return counts


def list_groups(conn: Connection, *, state: str | None, limit: int) -> list[dict[str, Any]]:
    """Groups (newest first) with their subband counts."""
    n_sub = (
        sa.select(sa.func.count())
        .where(subband_files.c.group_id == q.group_id)
        .scalar_subquery()
        .label("n_subbands")
    )
    stmt = sa.select(ingest_queue, n_sub).order_by(q.group_id.desc()).limit(limit)
    if state is not None:
        stmt = stmt.where(q.state == state)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def metrics_row(conn: Connection, *, group_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(performance_metrics).where(performance_metrics.c.group_id == group_id)
    ).first()
    return None if row is None else dict(row._mapping)


# --- workers ------------------------------------------------------------------------


def _claimable(now: float) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(
            q.state == "pending", sa.or_(q.next_attempt_at.is_(None), q.next_attempt_at <= now)
        ),
        sa.and_(q.state == "failed", q.next_attempt_at.is_not(None), q.next_attempt_at <= now),
    )


def claim_next(conn: Connection, *, worker_id: str, now: float, lease_s: float) -> str | None:
    """Claim the oldest claimable group for ``worker_id``: a pending group, or a failed one
    whose retry time has come. Returns its id, or None.

    Atomic on both backends: on SQLite the caller's ``BEGIN IMMEDIATE`` holds the
    write lock; on PostgreSQL the row is locked with ``FOR UPDATE SKIP LOCKED``, so
    concurrent workers skip each other's candidates instead of waiting on them.
    """
    stmt = (
        sa.select(q.group_id)
        .where(_claimable(now))
        .order_by(q.received_at, q.group_id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    group_id = conn.execute(stmt).scalar()
    if group_id is None:
        return None
    conn.execute(
        ingest_queue.update()
        .where(q.group_id == group_id)
        .values(
            state="in_progress",
            lease_owner=worker_id,
            lease_expires_at=now + lease_s,
            heartbeat_at=now,
            next_attempt_at=None,
            last_update=now,
        )
    )
    return str(group_id)


def renew_lease(
    conn: Connection, *, group_id: str, worker_id: str, now: float, lease_s: float
) -> bool:
    """Extend the lease; False if ``worker_id`` no longer holds the group."""
    stmt = (
        ingest_queue.update()
        .where(q.group_id == group_id, q.lease_owner == worker_id, q.state.in_(ACTIVE_STATES))
        .values(lease_expires_at=now + lease_s, heartbeat_at=now)
    )
    return conn.execute(stmt).rowcount == 1


def advance(conn: Connection, *, group_id: str, worker_id: str, to_state: str, now: float) -> bool:
    """Move a group the worker holds to another active state."""
    stmt = (
        ingest_queue.update()
        .where(q.group_id == group_id, q.lease_owner == worker_id, q.state.in_(ACTIVE_STATES))
        .values(state=to_state, last_update=now)
    )
    return conn.execute(stmt).rowcount == 1


def complete(
    conn: Connection,
    *,
    group_id: str,
    worker_id: str,
    now: float,
    timings_s: dict[str, float],
    total_time_s: float,
    writer_type: str | None,
    note: str | None = None,
) -> bool:
    """Mark the group completed and (re)write its one ``performance_metrics`` row.

    ``note`` (caveats such as extrapolated calibration) becomes its ``error_message``.
    """
    stmt = (
        ingest_queue.update()
        .where(q.group_id == group_id, q.lease_owner == worker_id, q.state.in_(ACTIVE_STATES))
        .values(
            state="completed",
            error_message=note,
            lease_owner=None,
            lease_expires_at=None,
            next_attempt_at=None,
            last_update=now,
        )
    )
    if conn.execute(stmt).rowcount != 1:
        return False
    conn.execute(performance_metrics.delete().where(performance_metrics.c.group_id == group_id))
    values: dict[str, Any] = {col: timings_s.get(col) for col in STAGE_COLUMNS}
    conn.execute(
        performance_metrics.insert().values(
            group_id=group_id,
            writer_type=writer_type,
            total_time=total_time_s,
            recorded_at=now,
            **values,
        )
    )
    return True


def fail(
    conn: Connection,
    *,
    group_id: str,
    worker_id: str,
    now: float,
    error_message: str,
    max_retries: int,
    backoff_base_s: float,
) -> tuple[bool, int, float | None]:
    """Mark a held group failed, count the retry and schedule the next attempt.

    Returns (moved, retry_count, next_attempt_at); next_attempt_at is None once
    ``retry_count`` exceeds ``max_retries`` (the group then stays failed).
    """
    current = conn.execute(
        sa.select(q.retry_count).where(
            q.group_id == group_id, q.lease_owner == worker_id, q.state.in_(ACTIVE_STATES)
        )
    ).first()
    if current is None:
        return False, 0, None
    retries = int(current[0] or 0) + 1
    next_at = now + backoff_base_s * 2 ** (retries - 1) if retries <= max_retries else None
    conn.execute(
        ingest_queue.update()
        .where(q.group_id == group_id)
        .values(
            state="failed",
            retry_count=retries,
            error_message=error_message,
            next_attempt_at=next_at,
            lease_owner=None,
            lease_expires_at=None,
            last_update=now,
        )
    )
    return True, retries, next_at


def defer(
    conn: Connection, *, group_id: str, worker_id: str, now: float, reason: str, retry_at: float
) -> bool:
    """Put a held group back to pending (no retry counted), not offered before ``retry_at``."""
    stmt = (
        ingest_queue.update()
        .where(q.group_id == group_id, q.lease_owner == worker_id, q.state.in_(ACTIVE_STATES))
        .values(
            state="pending",
            error_message=reason,
            next_attempt_at=retry_at,
            lease_owner=None,
            lease_expires_at=None,
            last_update=now,
        )
    )
    return conn.execute(stmt).rowcount == 1


def release(conn: Connection, *, group_id: str, worker_id: str, now: float, reason: str) -> bool:
    """Give a held group back to pending at once (a worker shutting down)."""
    return defer(conn, group_id=group_id, worker_id=worker_id, now=now, reason=reason, retry_at=now)


def _expired(now: float) -> sa.ColumnElement[bool]:
    # No lease at all (e.g. set in_progress before leases existed) counts as expired.
    return sa.or_(q.lease_expires_at.is_(None), q.lease_expires_at < now)


def reap_expired(conn: Connection, *, now: float, max_retries: int) -> list[tuple[str, str, str]]:
    """Return groups whose worker's lease expired to pending (or failed past ``max_retries``).

    A lost lease counts as an attempt, so a group that kills every worker that
    takes it ends failed instead of looping. Returns (group_id, old owner, new state).
    """
    rows = conn.execute(
        sa.select(q.group_id, q.lease_owner, q.retry_count, q.state)
        .where(q.state.in_(ACTIVE_STATES), _expired(now))
        .order_by(q.group_id)
        .with_for_update(skip_locked=True)
    ).all()
    out: list[tuple[str, str, str]] = []
    for group_id, owner, retry_count, state in rows:
        retries = int(retry_count or 0) + 1
        new_state = "pending" if retries <= max_retries else "failed"
        message = f"worker {owner} lost its lease during {state} (crashed or hung); " + (
            "returned to pending" if new_state == "pending" else f"failed after {retries} attempts"
        )
        moved = conn.execute(
            ingest_queue.update()
            .where(q.group_id == group_id, _expired(now), q.state.in_(ACTIVE_STATES))
            .values(
                state=new_state,
                retry_count=retries,
                error_message=message,
                lease_owner=None,
                lease_expires_at=None,
                next_attempt_at=None,
                last_update=now,
            )
        ).rowcount
        if moved:
            out.append((str(group_id), str(owner), new_state))
    return out


def has_future_work(conn: Connection) -> bool:
    """True while some group is held by a worker, or claimable now or later."""
    stmt = sa.select(q.group_id).where(
        sa.or_(
            q.state.in_(("pending", *ACTIVE_STATES)),
            sa.and_(q.state == "failed", q.next_attempt_at.is_not(None)),
        )
    )
    return conn.execute(stmt.limit(1)).first() is not None
