"""SQL of the workers' side of the ingest queue: claiming a group under a lease,
renewing it, advancing, completing, failing, deferring and releasing it, and
reaping expired leases.

Every transition is conditional on the lease owner, so a worker that lost its lease
cannot overwrite what another worker did. Functions take a ``Connection`` inside the
caller's transaction and run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.ingest import ingest_queue, performance_metrics
from contimg.db.queries.ingest.groups import ACTIVE_STATES, STAGE_COLUMNS

q = ingest_queue.c


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


def _let_go(
    conn: Connection,
    *,
    group_id: str,
    worker_id: str,
    now: float,
    state: str,
    error_message: str | None,
    next_attempt_at: float | None,
) -> bool:
    """Move a group ``worker_id`` holds to ``state`` and drop its lease; False if the
    worker no longer holds it (nothing changes then)."""
    stmt = (
        ingest_queue.update()
        .where(q.group_id == group_id, q.lease_owner == worker_id, q.state.in_(ACTIVE_STATES))
        .values(
            state=state,
            error_message=error_message,
            next_attempt_at=next_attempt_at,
            lease_owner=None,
            lease_expires_at=None,
            last_update=now,
        )
    )
    return conn.execute(stmt).rowcount == 1


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
    held = _let_go(
        conn, group_id=group_id, worker_id=worker_id, now=now, state="completed",
        error_message=note, next_attempt_at=None,
    )  # fmt: skip
    if not held:
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
    return _let_go(
        conn, group_id=group_id, worker_id=worker_id, now=now, state="pending",
        error_message=reason, next_attempt_at=retry_at,
    )  # fmt: skip


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
