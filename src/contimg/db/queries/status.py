"""Queries behind the specification's ``PipelineStatus``: queue counts, recent groups
and calibration sets."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.cal_registry import caltables
from contimg.db.queries import api_views, listing
from contimg.db.queries.ingest import count_by_state
from contimg.models import CalibrationSet, CalibrationTable, QueueStats, RecentGroup


def queue_stats(conn: Connection) -> QueueStats:
    """Counts of groups by state (``in_progress`` includes ``processing_fresh``)."""
    counts = count_by_state(conn)
    return QueueStats(
        total=sum(counts.values()),
        pending=counts["pending"],
        in_progress=counts["in_progress"] + counts["processing_fresh"],
        completed=counts["completed"],
        failed=counts["failed"],
        collecting=counts["collecting"],
        processing_fresh=counts["processing_fresh"],
    )


def parse_calibrators(text: str | None) -> list[dict[str, object]]:
    """``ingest_queue.calibrators`` (a JSON array, or legacy free text) as a list of
    objects with at least a ``name``."""
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return [{"name": text}]
    if isinstance(value, list):
        return [v if isinstance(v, dict) else {"name": str(v)} for v in value]
    return [value] if isinstance(value, dict) else [{"name": str(value)}]


def to_recent_group(r: Mapping[str, Any]) -> RecentGroup:
    """A row of the groups listing (:data:`api_views.GROUPS`) as a RecentGroup."""
    return RecentGroup(
        group_id=r["group_id"],
        state=r["state"],
        received_at=r["received_at"],
        last_update=r["last_update"],
        subbands_present=int(r.get("subbands_present") or 0),
        expected_subbands=int(r["expected_subbands"] or 16),
        has_calibrator=None if r["has_calibrator"] is None else bool(r["has_calibrator"]),
        calibrators=parse_calibrators(r["calibrators"]),
        retry_count=int(r["retry_count"] or 0),
        error_message=r["error_message"],
        total_time_s=r.get("total_time_s"),
    )


def recent_groups(
    conn: Connection, *, limit: int = 20, offset: int = 0, state: str | None = None
) -> list[RecentGroup]:
    """Groups, most recently received first, with subband counts and processing time
    (the groups listing's default order)."""
    query = listing.Query.build([listing.Filter("state", "eq", state) if state else None])
    page = listing.rows(conn, api_views.GROUPS, query, limit=limit, offset=offset)
    return [to_recent_group(r) for r in page]


def calibration_sets(
    conn: Connection, *, now_mjd: float, active_only: bool = False
) -> list[CalibrationSet]:
    """Every calibration set with its tables, newest first.

    A set is ``active`` when all its tables are; its window spans its tables' windows.
    """
    c = caltables
    query = sa.select(c).order_by(c.c.set_name, c.c.order_index)
    by_set: dict[str, list[sa.RowMapping]] = defaultdict(list)
    for r in conn.execute(query).mappings():
        by_set[r["set_name"]].append(r)
    sets = []
    for name, rows in by_set.items():
        start = min(r["valid_start_mjd"] for r in rows)
        end = max(r["valid_end_mjd"] for r in rows)
        active = all(int(r["active"] if r["active"] is not None else 1) == 1 for r in rows)
        if active_only and not active:
            continue
        sets.append(
            CalibrationSet(
                set_name=name,
                tables=[
                    CalibrationTable(
                        table_type=r["table_type"],
                        path=r["path"],
                        order_index=r["order_index"],
                        valid_start_mjd=r["valid_start_mjd"],
                        valid_end_mjd=r["valid_end_mjd"],
                    )
                    for r in rows
                ],
                valid_start_mjd=start,
                valid_end_mjd=end,
                created_at=max(r["created_at"] for r in rows),
                active=active,
                covers_now=start <= now_mjd <= end,
            )
        )
    sets.sort(key=lambda s: (-s.created_at, s.set_name))
    return sets
