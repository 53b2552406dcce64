"""ESE candidates: list and detail as the spec's ESECandidate, the spec's
"candidates with source details" query, status changes and notes."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from contimg.api.candidates import build_candidate
from contimg.api.deps import (
    TEXT_PATTERN,
    FormatParam,
    PagingDep,
    ProductsDb,
    ReadAccess,
    SettingsDep,
    State,
    WriteAccess,
    export_response,
    sort_param,
)
from contimg.api.schemas import NoteIn, StatusChange
from contimg.config import Settings
from contimg.db.engine import Database
from contimg.db.queries import api_views, listing, patterns
from contimg.db.queries import ese as eq
from contimg.db.queries.listing import Filter
from contimg.errors import NotFoundError
from contimg.models import (
    API_TO_TABLE_STATUS,
    CandidateApiStatus,
    ESECandidate,
    EseCandidateWithSource,
    Page,
)
from contimg.science import ese as ese_rules
from contimg.stages.photometry import set_candidate_status

router = APIRouter(prefix="/candidates", tags=["candidates"], dependencies=[ReadAccess])

CandidateId = Annotated[int, Path(ge=1, le=2**62)]


def _with_points(
    db: Database, rows: list[dict[str, Any]], *, detection_sigma: float
) -> list[ESECandidate]:
    if not rows:
        return []
    ids = sorted({r["source_id"] for r in rows})
    points: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with db.read() as conn:
        for p in listing.iter_rows(
            conn, api_views.PHOTOMETRY, listing.Query.build([Filter("source_id", "in", ids)])
        ):
            points[p["source_id"]].append(p)
    return [
        build_candidate(r, points[r["source_id"]], detection_sigma=detection_sigma) for r in rows
    ]


def candidates_for(
    db: Database, settings: Settings, filters: Sequence[Filter], *, limit: int
) -> list[ESECandidate]:
    """Candidates matching ``filters`` as ESECandidate (most significant first); a
    detection is a measurement deviating by the ESE threshold of the settings."""
    with db.read() as conn:
        rows, _ = listing.list_page(
            conn, api_views.CANDIDATES, listing.Query.build(filters), limit=limit, offset=0
        )
    return _with_points(db, rows, detection_sigma=settings.photometry.ese_sigma_deviation)


async def _query(
    status: Annotated[
        list[CandidateApiStatus] | None, Query(description="API status words (repeatable).")
    ] = None,
    flag_type: Annotated[str | None, Query(pattern=r"^(variability|rapid_change|user)$")] = None,
    source_id: Annotated[str | None, Query(max_length=200, pattern=TEXT_PATTERN)] = None,
    min_significance: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    flagged_since: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    flagged_until: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    sort: Annotated[str | None, sort_param(api_views.CANDIDATES)] = None,
) -> listing.Query:
    return listing.Query.build(
        [
            Filter("status", "in", [API_TO_TABLE_STATUS[s] for s in status]) if status else None,
            Filter("flag_type", "eq", flag_type) if flag_type else None,
            Filter("source_id", "eq", source_id) if source_id else None,
            Filter("significance", "ge", min_significance)
            if min_significance is not None
            else None,
            Filter("flagged_at", "ge", flagged_since) if flagged_since is not None else None,
            Filter("flagged_at", "lt", flagged_until) if flagged_until is not None else None,
        ],
        sort=sort,
    )


CandidateQuery = Annotated[listing.Query, Depends(_query)]


@router.get("", response_model=Page[ESECandidate], summary="List ESE candidates")
def list_candidates(
    db: ProductsDb, settings: SettingsDep, query: CandidateQuery, paging: PagingDep
) -> Page[ESECandidate]:
    """ESE candidates as the spec's ESECandidate, most significant first by default."""
    with db.read() as conn:
        rows, total = listing.list_page(
            conn, api_views.CANDIDATES, query, limit=paging.limit, offset=paging.offset
        )
    return Page[ESECandidate](
        data=_with_points(db, rows, detection_sigma=settings.photometry.ese_sigma_deviation),
        count=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/export", summary="Export candidates", response_class=StreamingResponse)
def export_candidates(db: ProductsDb, query: CandidateQuery, format: FormatParam = "csv") -> Any:
    """The candidate rows joined with their sources' statistics (table words for status)."""
    return export_response(db, api_views.CANDIDATES, query, format)


@router.get(
    "/with-sources",
    response_model=Page[EseCandidateWithSource],
    summary="Candidates with source details (spec query)",
)
def with_sources(
    db: ProductsDb,
    paging: PagingDep,
    status: Annotated[CandidateApiStatus | None, Query()] = "active",
) -> Page[EseCandidateWithSource]:
    """The specification's query: candidates joined with their variability
    statistics, most significant first (``status`` null: every status)."""
    table_status = API_TO_TABLE_STATUS[status] if status else None
    with db.read() as conn:
        rows = patterns.ese_candidates_with_sources(
            conn, status=table_status, limit=paging.limit, offset=paging.offset
        )
        total = listing.count(
            conn,
            api_views.CANDIDATES,
            listing.Query.build(
                [
                    Filter("status", "eq", table_status) if table_status else None,
                    Filter("ra_deg", "not_null"),
                ]
            ),
        )
    return Page[EseCandidateWithSource](
        data=rows, count=total, limit=paging.limit, offset=paging.offset
    )


@router.get("/{candidate_id}", response_model=ESECandidate, summary="ESE candidate")
def get_candidate(db: ProductsDb, settings: SettingsDep, candidate_id: CandidateId) -> ESECandidate:
    found = candidates_for(db, settings, [Filter("id", "eq", candidate_id)], limit=1)
    if not found:
        raise NotFoundError(f"no ESE candidate with id {candidate_id}")
    return found[0]


@router.post(
    "/{candidate_id}/status",
    response_model=ESECandidate,
    dependencies=[WriteAccess],
    summary="Change a candidate's status",
)
def change_status(state: State, candidate_id: CandidateId, body: StatusChange) -> ESECandidate:
    """Move a candidate to active, resolved (table: investigated) or false_positive
    (table: dismissed), with a dated note. Moves the workflow does not allow
    (e.g. false_positive -> resolved) answer 400 naming the allowed ones."""
    set_candidate_status(
        state.dbs,
        candidate_id=candidate_id,
        status=API_TO_TABLE_STATUS[body.status],
        note=body.note,
        author=body.author,
    )
    return get_candidate(state.dbs.products, state.settings, candidate_id)


@router.post(
    "/{candidate_id}/notes",
    response_model=ESECandidate,
    dependencies=[WriteAccess],
    summary="Add a note to a candidate",
)
def add_note(
    db: ProductsDb, settings: SettingsDep, candidate_id: CandidateId, body: NoteIn
) -> ESECandidate:
    """Append a dated note (notes are kept, never overwritten)."""
    with db.write() as conn:
        row = eq.get_candidate(conn, candidate_id=candidate_id)
        if row is None:
            raise NotFoundError(f"no ESE candidate with id {candidate_id}")
        notes = ese_rules.append_note(row["notes"], body.note, author=body.author, at=time.time())
        eq.update_candidate(conn, candidate_id=candidate_id, values={"notes": notes})
    return get_candidate(db, settings, candidate_id)
