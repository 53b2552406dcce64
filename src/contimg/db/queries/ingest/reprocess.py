"""SQL of reprocessing runs (``contimg reprocess``): selecting groups, the
``reprocess_requests`` rows, putting finished groups back in the queue, and a run's
progress. What a run does with them is :mod:`contimg.ingest.reprocess`'s.

Functions take a ``Connection`` inside the caller's transaction and run on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.ingest import ingest_queue, reprocess_requests, subband_files

q = ingest_queue.c
r = reprocess_requests.c


class ReprocessRequest(NamedTuple):
    """One ``reprocess_requests`` row."""

    group_id: str
    run_tag: str
    overrides: dict[str, dict[str, object]]
    """Settings overrides by section (stored as JSON text)."""
    keep_previous: bool
    requested_at: float
    started_at: float | None
    done_at: float | None


def groups_in_range(conn: Connection, *, start: str | None, end: str | None) -> list[str]:
    """Group ids (``YYYY-MM-DDTHH:MM:SS``, UTC) between ``start`` and ``end`` inclusive."""
    stmt = sa.select(q.group_id).order_by(q.group_id)
    if start:
        stmt = stmt.where(q.group_id >= start)
    if end:
        stmt = stmt.where(q.group_id <= end)
    return [str(g) for g in conn.execute(stmt).scalars()]


def groups_under(conn: Connection, *, directory: Path) -> list[str]:
    """Groups with at least one subband file under ``directory``."""
    prefix = str(directory).rstrip("/") + "/"
    f = subband_files.c
    stmt = (
        sa.select(f.group_id)
        .where(f.file_path.like(prefix.replace("%", r"\%").replace("_", r"\_") + "%", escape="\\"))
        .distinct()
        .order_by(f.group_id)
    )
    return [str(g) for g in conn.execute(stmt).scalars()]


def group_states(conn: Connection, *, group_ids: Sequence[str]) -> dict[str, str]:
    """Queue state of each of ``group_ids`` that is in the queue."""
    rows = conn.execute(sa.select(q.group_id, q.state).where(q.group_id.in_(group_ids))).all()
    return {str(g): str(s) for g, s in rows}


def replace_requests(
    conn: Connection,
    *,
    group_ids: Sequence[str],
    run_tag: str,
    overrides: Mapping[str, Mapping[str, str]],
    keep_previous: bool,
    now: float,
) -> None:
    """One new request per group of ``group_ids`` (any earlier request of the group is
    replaced)."""
    conn.execute(reprocess_requests.delete().where(r.group_id.in_(group_ids)))
    conn.execute(
        reprocess_requests.insert(),
        [
            {
                "group_id": g,
                "run_tag": run_tag,
                "overrides": json.dumps(overrides, sort_keys=True),
                "keep_previous": 1 if keep_previous else 0,
                "requested_at": now,
            }
            for g in group_ids
        ],
    )


def requeue(
    conn: Connection,
    *,
    group_ids: Sequence[str],
    from_states: Sequence[str],
    note: str,
    now: float,
) -> None:
    """Set the groups of ``group_ids`` still in one of ``from_states`` back to pending:
    no retries counted, no lease, ``note`` as their message."""
    conn.execute(
        ingest_queue.update()
        .where(q.group_id.in_(group_ids), q.state.in_(from_states))
        .values(
            state="pending",
            retry_count=0,
            error_message=note,
            next_attempt_at=None,
            lease_owner=None,
            lease_expires_at=None,
            last_update=now,
        )
    )


def run_states(conn: Connection, *, run_tag: str) -> dict[str, int]:
    """Groups of run ``run_tag`` by queue state."""
    rows = conn.execute(
        sa.select(q.state, sa.func.count())
        .select_from(reprocess_requests.join(ingest_queue, r.group_id == q.group_id))
        .where(r.run_tag == run_tag)
        .group_by(q.state)
    ).all()
    return {str(s): int(n) for s, n in rows}


def open_request(conn: Connection, *, group_id: str) -> ReprocessRequest | None:
    """The group's request that is not done yet, if any."""
    row = (
        conn.execute(
            sa.select(reprocess_requests).where(r.group_id == group_id, r.done_at.is_(None))
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return ReprocessRequest(
        group_id=str(row["group_id"]),
        run_tag=str(row["run_tag"]),
        overrides=json.loads(row["overrides"] or "{}"),
        keep_previous=bool(row["keep_previous"]),
        requested_at=float(row["requested_at"]),
        started_at=None if row["started_at"] is None else float(row["started_at"]),
        done_at=None if row["done_at"] is None else float(row["done_at"]),
    )


def mark_started(conn: Connection, *, group_id: str, now: float) -> None:
    conn.execute(reprocess_requests.update().where(r.group_id == group_id).values(started_at=now))


def mark_done(conn: Connection, *, group_id: str, now: float) -> None:
    """Mark the group's open request done."""
    conn.execute(
        reprocess_requests.update()
        .where(r.group_id == group_id, r.done_at.is_(None))
        .values(done_at=now)
    )
