"""Queries behind the live real-time factor and the Prometheus ``/metrics``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.ingest import ingest_queue, performance_metrics
from contimg.db.queries.ingest import STAGE_COLUMNS, count_by_state
from contimg.models import LiveRate
from contimg.telescope import DSA110

RATE_WINDOW_S = 3600.0

STAGE_BUCKETS_S: tuple[float, ...] = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 3600)
"""Histogram bucket bounds (s) of the per-stage durations."""

HISTOGRAM_COLUMNS: tuple[str, ...] = (*STAGE_COLUMNS, "total_time")


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of ``(start, end)`` intervals."""
    total = 0.0
    cur_start = cur_end = None
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if cur_end is None or start > cur_end:
            if cur_end is not None and cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return total


def live_rate(conn: Connection, *, now: float, window_s: float = RATE_WINDOW_S) -> LiveRate:
    """The real-time factor of the last ``window_s`` (definition: :class:`LiveRate`)."""
    since = now - window_s
    pm, q = performance_metrics, ingest_queue
    rows = conn.execute(
        sa.select(pm.c.recorded_at, pm.c.total_time).where(
            pm.c.recorded_at > since, pm.c.recorded_at <= now
        )
    ).all()
    intervals = [(max(float(end) - float(total or 0.0), since), float(end)) for end, total in rows]
    busy = busy_seconds(intervals)
    completed = len(rows)
    received = conn.execute(
        sa.select(sa.func.count()).where(q.c.received_at > since, q.c.received_at <= now)
    ).scalar_one()
    counts = count_by_state(conn)
    backlog = counts["pending"] + counts["in_progress"] + counts["processing_fresh"]
    return LiveRate(
        window_s=window_s,
        real_time_factor=completed * DSA110.group_duration_s / busy if busy > 0 else None,
        groups_completed=completed,
        groups_received=int(received),
        busy_s=busy,
        backlog=backlog,
        backlog_growing=backlog > 0 and int(received) > completed,
    )


@dataclass(frozen=True, slots=True)
class StageHistogram:
    """One timing column's histogram: rows with a value, their sum (s) and, per bound
    of :data:`STAGE_BUCKETS_S`, the cumulative count of rows at or below it."""

    count: int
    sum: float
    buckets: list[tuple[float, int]]


def stage_histograms(conn: Connection) -> dict[str, StageHistogram]:
    """Per ``performance_metrics`` column: cumulative bucket counts, count and sum."""
    pm = performance_metrics
    cols: list[sa.ColumnElement[Any]] = []
    for name in HISTOGRAM_COLUMNS:
        c = pm.c[name]
        cols.append(sa.func.count(c).label(f"{name}__n"))
        cols.append(sa.func.coalesce(sa.func.sum(c), 0.0).label(f"{name}__sum"))
        for i, bound in enumerate(STAGE_BUCKETS_S):
            cols.append(
                sa.func.coalesce(sa.func.sum(sa.case((c <= bound, 1), else_=0)), 0).label(
                    f"{name}__b{i}"
                )
            )
    row = conn.execute(sa.select(*cols)).mappings().one()
    out: dict[str, StageHistogram] = {}
    for name in HISTOGRAM_COLUMNS:
        out[name] = StageHistogram(
            count=int(row[f"{name}__n"]),
            sum=float(row[f"{name}__sum"]),
            buckets=[(bound, int(row[f"{name}__b{i}"])) for i, bound in enumerate(STAGE_BUCKETS_S)],
        )
    return out


def groups_processed(conn: Connection) -> int:
    """Groups with a performance record (each completed processing run)."""
    return count_rows(conn, performance_metrics)


def count_by(conn: Connection, table: sa.Table, column: str, default: str) -> dict[str, int]:
    """Rows of ``table`` per value of ``column`` (NULL counted as ``default``)."""
    col = sa.func.coalesce(table.c[column], default)
    rows = conn.execute(sa.select(col, sa.func.count()).group_by(col)).all()
    return {str(v): int(n) for v, n in rows}


def count_rows(conn: Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
