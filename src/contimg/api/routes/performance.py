"""Performance: per-stage processing times over time, throughput against arrivals."""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from contimg.api.deps import (
    TEXT_PATTERN,
    FormatParam,
    IngestDb,
    PagingDep,
    ReadAccess,
    export_response,
    page_of,
    sort_param,
)
from contimg.api.schemas import StageTimesPoint, Throughput, ThroughputBin
from contimg.db.queries import api_views, listing
from contimg.db.queries.listing import Filter
from contimg.errors import ContimgError
from contimg.models import Page, PerformanceMetricsRow

router = APIRouter(prefix="/performance", tags=["performance"], dependencies=[ReadAccess])

Since = Annotated[
    float | None,
    Query(allow_inf_nan=False, ge=0, le=1e11, description="Unix s; default: until - 24 h."),
]
Until = Annotated[
    float | None, Query(allow_inf_nan=False, ge=0, le=1e11, description="Unix s; default: now.")
]
BinS = Annotated[float, Query(ge=60, le=30 * 86400, allow_inf_nan=False, description="Bin (s).")]
MAX_BINS = 5000


def _window(since: float | None, until: float | None, bin_s: float) -> tuple[float, float]:
    end = time.time() if until is None else until
    start = end - 86400.0 if since is None else since
    if not start < end:
        raise ContimgError(f"since ({start}) must be before until ({end})")
    if (end - start) / bin_s > MAX_BINS:
        raise ContimgError(
            f"{(end - start) / bin_s:.0f} bins of {bin_s} s requested; at most {MAX_BINS}: "
            "widen bin_s or narrow the window"
        )
    return start, end


@router.get("/stages", response_model=list[StageTimesPoint], summary="Per-stage times")
def stage_times(
    db: IngestDb, since: Since = None, until: Until = None, bin_s: BinS = 3600.0
) -> list[StageTimesPoint]:
    """Mean seconds per stage of the groups processed in each time bin (bins
    without groups are omitted)."""
    start, end = _window(since, until, bin_s)
    with db.read() as conn:
        rows = api_views.stage_times_binned(conn, since=start, until=end, bin_s=bin_s)
    return [StageTimesPoint.model_validate(r, from_attributes=True) for r in rows]


@router.get("/throughput", response_model=Throughput, summary="Throughput vs arrivals")
def throughput(
    db: IngestDb, since: Since = None, until: Until = None, bin_s: BinS = 3600.0
) -> Throughput:
    """Groups received, completed and failed per bin (every bin of the window, zeros
    included), and the mean arrival and completion rates in groups per hour."""
    start, end = _window(since, until, bin_s)
    with db.read() as conn:
        counts = api_views.throughput_binned(conn, since=start, until=end, bin_s=bin_s)
    first = math.floor(start / bin_s) * bin_s
    bins: list[ThroughputBin] = []
    n_bins = math.ceil((end - first) / bin_s)
    for i in range(n_bins):
        b = first + i * bin_s
        bins.append(
            ThroughputBin(
                bin_start=b,
                arrived=counts["arrived"].get(b, 0),
                completed=counts["completed"].get(b, 0),
                failed=counts["failed"].get(b, 0),
            )
        )
    hours = (end - start) / 3600.0
    return Throughput(
        bin_s=bin_s,
        bins=bins,
        arrival_rate_per_hour=sum(counts["arrived"].values()) / hours,
        completion_rate_per_hour=sum(counts["completed"].values()) / hours,
    )


async def _metrics_query(
    group_id: Annotated[str | None, Query(max_length=64, pattern=TEXT_PATTERN)] = None,
    writer_type: Annotated[str | None, Query(max_length=64, pattern=TEXT_PATTERN)] = None,
    since: Since = None,
    until: Until = None,
    sort: Annotated[str | None, sort_param(api_views.PERFORMANCE)] = None,
) -> listing.Query:
    return listing.Query.build(
        [
            Filter("group_id", "eq", group_id) if group_id else None,
            Filter("writer_type", "eq", writer_type) if writer_type else None,
            Filter("recorded_at", "ge", since) if since is not None else None,
            Filter("recorded_at", "lt", until) if until is not None else None,
        ],
        sort=sort,
    )


MetricsQuery = Annotated[listing.Query, Depends(_metrics_query)]


@router.get("/metrics", response_model=Page[PerformanceMetricsRow], summary="Metrics rows")
def list_metrics(
    db: IngestDb, query: MetricsQuery, paging: PagingDep
) -> Page[PerformanceMetricsRow]:
    """Rows of ``performance_metrics`` (one per processed group)."""
    return page_of(db, api_views.PERFORMANCE, query, paging, PerformanceMetricsRow.model_validate)


@router.get("/metrics/export", summary="Export metrics", response_class=StreamingResponse)
def export_metrics(
    db: IngestDb, query: MetricsQuery, format: FormatParam = "csv"
) -> StreamingResponse:
    return export_response(db, api_views.PERFORMANCE, query, format)
