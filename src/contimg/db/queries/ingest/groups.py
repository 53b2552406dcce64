"""SQL of the ingest queue's groups: creating and renaming them, their subband
files, states, calibrators, retries, counts and their ``performance_metrics`` row.

Functions take a ``Connection`` inside the caller's transaction and run on SQLite and
PostgreSQL (see :mod:`contimg.db.queries.ingest`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.ingest import ingest_files, ingest_queue, performance_metrics, subband_files
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


q = ingest_queue.c
f = ingest_files.c


@dataclass(frozen=True, slots=True)
class GroupRow:
    """An ``ingest_queue`` row (columns in table order)."""

    group_id: str
    state: str
    received_at: float
    last_update: float
    expected_subbands: int | None
    has_calibrator: int | None
    calibrators: str | None
    """JSON array of the matched calibrator transits."""
    retry_count: int | None
    error_message: str | None
    lease_owner: str | None
    lease_expires_at: float | None
    heartbeat_at: float | None
    next_attempt_at: float | None


@dataclass(frozen=True, slots=True)
class GroupListRow(GroupRow):
    """A group with the number of its registered subband files (:func:`list_groups`)."""

    n_subbands: int


@dataclass(frozen=True, slots=True)
class SubbandRow:
    """A ``subband_files`` row (columns in table order)."""

    id: int
    group_id: str
    subband_idx: int
    file_path: str
    file_size: int | None
    discovered_at: float


@dataclass(frozen=True, slots=True)
class MetricsRow:
    """A ``performance_metrics`` row (columns in table order)."""

    id: int
    group_id: str
    writer_type: str | None
    conversion_time: float | None
    concat_time: float | None
    k_solve_time: float | None
    bp_solve_time: float | None
    g_solve_time: float | None
    imaging_time: float | None
    photometry_time: float | None
    total_time: float | None
    recorded_at: float

    def seconds(self, column: str) -> float | None:
        """The value of a timing column: one of :data:`STAGE_COLUMNS` or ``total_time``."""
        if column not in (*STAGE_COLUMNS, "total_time"):
            raise KeyError(column)
        value: float | None = getattr(self, column)
        return value


def group_row(conn: Connection, *, group_id: str) -> GroupRow | None:
    row = conn.execute(sa.select(ingest_queue).where(q.group_id == group_id)).first()
    return None if row is None else GroupRow(**row._mapping)


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
    conn.execute(ingest_queue.insert().values(**{**dataclasses.asdict(row), "group_id": new}))
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


def subbands(conn: Connection, *, group_id: str) -> list[SubbandRow]:
    rows = conn.execute(
        sa.select(subband_files)
        .where(subband_files.c.group_id == group_id)
        .order_by(subband_files.c.subband_idx)
    )
    return [SubbandRow(**r._mapping) for r in rows]


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


def list_groups(conn: Connection, *, state: str | None, limit: int) -> list[GroupListRow]:
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
    return [GroupListRow(**r._mapping) for r in conn.execute(stmt)]


def metrics_row(conn: Connection, *, group_id: str) -> MetricsRow | None:
    row = conn.execute(
        sa.select(performance_metrics).where(performance_metrics.c.group_id == group_id)
    ).first()
    return None if row is None else MetricsRow(**row._mapping)
