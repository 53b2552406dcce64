"""The ingest queue: groups by state and time range, group detail, retry."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from contimg.api.deps import (
    TEXT_PATTERN,
    FormatParam,
    IngestDb,
    PagingDep,
    ReadAccess,
    WriteAccess,
    export_response,
    load_or_404,
    page_of,
    sort_param,
)
from contimg.api.schemas import GroupDetail, IngestFile, RetryResult, StageTiming
from contimg.db.queries import api_views, ingest, listing
from contimg.db.queries.listing import Filter, like_prefix
from contimg.db.queries.status import to_recent_group
from contimg.ingest.queue import retry_group as retry_group_in_queue
from contimg.models import (
    GROUP_STATES,
    GroupState,
    Page,
    PerformanceMetricsRow,
    RecentGroup,
    SubbandFileRow,
)

router = APIRouter(prefix="/groups", tags=["queue"], dependencies=[ReadAccess])

GroupId = Annotated[str, Path(max_length=64, pattern=TEXT_PATTERN, description="Group id.")]
Ts = Annotated[float | None, Query(allow_inf_nan=False, description="Unix seconds.")]


async def _query(
    state: Annotated[
        list[GroupState] | None, Query(description="Only these states (repeatable).")
    ] = None,
    received_since: Ts = None,
    received_until: Ts = None,
    updated_since: Ts = None,
    group_id_prefix: Annotated[str | None, Query(max_length=64, pattern=TEXT_PATTERN)] = None,
    has_calibrator: bool | None = None,
    min_retries: Annotated[int | None, Query(ge=0, le=10**6)] = None,
    sort: Annotated[str | None, sort_param(api_views.GROUPS)] = None,
) -> listing.Query:
    return listing.Query.build(
        [
            Filter("state", "in", state) if state else None,
            Filter("received_at", "ge", received_since) if received_since is not None else None,
            Filter("received_at", "lt", received_until) if received_until is not None else None,
            Filter("last_update", "ge", updated_since) if updated_since is not None else None,
            Filter("group_id", "like", like_prefix(group_id_prefix)) if group_id_prefix else None,
            Filter("has_calibrator", "eq", int(has_calibrator))
            if has_calibrator is not None
            else None,
            Filter("retry_count", "ge", min_retries) if min_retries is not None else None,
        ],
        sort=sort,
    )


GroupQuery = Annotated[listing.Query, Depends(_query)]


@router.get("", response_model=Page[RecentGroup], summary="List groups")
def list_groups(db: IngestDb, query: GroupQuery, paging: PagingDep) -> Page[RecentGroup]:
    """Groups of the ingest queue by state and time range, newest first by default."""
    return page_of(db, api_views.GROUPS, query, paging, to_recent_group)


@router.get("/export", summary="Export groups", response_class=StreamingResponse)
def export_groups(
    db: IngestDb, query: GroupQuery, format: FormatParam = "csv"
) -> StreamingResponse:
    """Every group matching the filters (the whole result) as CSV or JSON."""
    return export_response(db, api_views.GROUPS, query, format)


@router.get("/states", response_model=list[str], summary="Group states")
def group_states() -> list[str]:
    """The states a group moves through, in order."""
    return list(GROUP_STATES)


@router.get("/{group_id}", response_model=GroupDetail, summary="Group detail")
def get_group(db: IngestDb, group_id: GroupId) -> GroupDetail:
    """A group with its subband files and sizes, per-stage timings and error."""
    with db.read() as conn:
        group = load_or_404(
            conn, api_views.GROUPS, column="group_id", value=group_id, convert=to_recent_group,
            missing=f"no group {group_id!r} in the ingest queue",
        )  # fmt: skip
        raw = ingest.group_row(conn, group_id=group_id)
        files = [SubbandFileRow.model_validate(f) for f in ingest.subbands(conn, group_id=group_id)]
        metrics = ingest.metrics_row(conn, group_id=group_id)
    perf = PerformanceMetricsRow.model_validate(metrics) if metrics else None
    present = {f.subband_idx for f in files}
    return GroupDetail(
        group=group,
        subband_files=files,
        total_size_bytes=sum(f.file_size or 0 for f in files),
        missing_subbands=[i for i in range(group.expected_subbands) if i not in present],
        performance=perf,
        stage_timings=[
            StageTiming(
                stage=c.removesuffix("_time"), seconds=metrics.seconds(c) if metrics else None
            )
            for c in ingest.STAGE_COLUMNS
        ],
        # None if the row went meanwhile (a collecting group renamed to its canonical id)
        lease_owner=raw.lease_owner if raw else None,
        lease_expires_at=raw.lease_expires_at if raw else None,
        next_attempt_at=raw.next_attempt_at if raw else None,
    )


@router.post(
    "/{group_id}/retry",
    response_model=RetryResult,
    dependencies=[WriteAccess],
    summary="Retry a failed group",
    responses={401: {"description": "No or wrong token"}, 409: {"description": "Not failed"}},
)
def retry_group(db: IngestDb, group_id: GroupId) -> RetryResult:
    """Put a failed group back to ``pending`` with a fresh retry budget."""
    # The same retry as ``contimg queue retry``: rejected files are checked again first.
    done = retry_group_in_queue(db, group_id=group_id, now=time.time())
    return RetryResult(group_id=done.group_id, state=done.state, retry_count=done.retry_count)


# ------------------------------------------------------------- the ingest file log

files_router = APIRouter(prefix="/ingest", tags=["queue"], dependencies=[ReadAccess])


async def _files_query(
    status: Annotated[Literal["waiting", "accepted", "rejected"] | None, Query()] = None,
    group_id: Annotated[str | None, Query(max_length=64, pattern=TEXT_PATTERN)] = None,
    subband_idx: Annotated[int | None, Query(ge=0, le=15)] = None,
    seen_since: Ts = None,
    sort: Annotated[str | None, sort_param(api_views.INGEST_FILES)] = None,
) -> listing.Query:
    return listing.Query.build(
        [
            Filter("status", "eq", status) if status else None,
            Filter("group_id", "eq", group_id) if group_id else None,
            Filter("subband_idx", "eq", subband_idx) if subband_idx is not None else None,
            Filter("first_seen_at", "ge", seen_since) if seen_since is not None else None,
        ],
        sort=sort,
    )


FilesQuery = Annotated[listing.Query, Depends(_files_query)]


@files_router.get("/files", response_model=Page[IngestFile], summary="Ingest file log")
def list_ingest_files(db: IngestDb, query: FilesQuery, paging: PagingDep) -> Page[IngestFile]:
    """Every subband file the watcher has seen: waiting for a stable size, accepted
    into a group, or rejected (with the reason)."""
    return page_of(db, api_views.INGEST_FILES, query, paging, IngestFile.model_validate)


@files_router.get("/files/export", summary="Export the file log", response_class=StreamingResponse)
def export_ingest_files(
    db: IngestDb, query: FilesQuery, format: FormatParam = "csv"
) -> StreamingResponse:
    return export_response(db, api_views.INGEST_FILES, query, format)
