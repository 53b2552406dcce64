"""ESE candidates: list and detail as the spec's ESECandidate, the spec's
"candidates with source details" query, status changes and notes."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from contimg.api.candidates import candidate_or_404, ese_rules_of, with_points
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
    found_or_404,
    sort_param,
)
from contimg.api.schemas import NoteIn, StatusChange
from contimg.db.queries import api_views, listing, patterns
from contimg.db.queries import ese as eq
from contimg.db.queries.listing import Filter
from contimg.models import (
    CandidateFlag,
    CandidateStatusIn,
    ESECandidate,
    EseCandidateWithSource,
    Page,
    SourceCandidates,
    utc_from_unix,
)
from contimg.science import ese as ese_rules
from contimg.variability.candidates import set_candidate_status

router = APIRouter(prefix="/candidates", tags=["candidates"], dependencies=[ReadAccess])

CandidateId = Annotated[int, Path(ge=1, le=2**62)]


async def _query(
    status: Annotated[
        list[CandidateStatusIn] | None,
        Query(
            description="active, investigated, dismissed (repeatable; the spec's resolved / "
            "false_positive are accepted)."
        ),
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
            Filter("status", "in", list(status)) if status else None,
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
        data=with_points(db, rows, **ese_rules_of(settings)),
        count=total,
        limit=paging.limit,
        offset=paging.offset,
    )


BY_SOURCE_SORTS = {
    "significance": lambda r: r.significance,
    "sigma_deviation": lambda r: r.max_sigma_dev if r.max_sigma_dev is not None else -1.0,
    "flagged_at": lambda r: r.flagged_at.timestamp() if r.flagged_at else 0.0,
    "source_id": lambda r: r.source_id,
}
BY_SOURCE_MAX = 20_000
"""Candidates grouped per request at most (the whole candidate table of a deployment
is a few thousand rows; grouping happens in Python after one indexed query)."""


def group_by_source(
    rows: Sequence[listing.ListingRow], built: Sequence[ESECandidate]
) -> list[SourceCandidates]:
    """One SourceCandidates per source of ``rows`` (candidate rows) / ``built``."""
    by: dict[str, list[tuple[listing.ListingRow, ESECandidate]]] = defaultdict(list)
    for r, c in zip(rows, built, strict=True):
        by[c.source_id].append((r, c))
    out = []
    for source_id, items in by.items():
        items.sort(key=lambda rc: -float(rc[0]["significance"] or 0.0))
        top = items[0][1]
        flags = [
            CandidateFlag(
                id=c.id,
                flag_type=str(r["flag_type"]),
                significance=float(r["significance"] or 0.0),
                status=c.status,
                flagged_at=utc_from_unix(r.get("flagged_at")),
                first_detection_at=c.first_detection_at,
                last_detection_at=c.last_detection_at,
                notes=c.notes,
            )
            for r, c in items
        ]
        firsts = [f.first_detection_at for f in flags if f.first_detection_at]
        lasts = [f.last_detection_at for f in flags if f.last_detection_at]
        flagged = [f.flagged_at for f in flags if f.flagged_at]
        statuses = {f.status for f in flags}
        out.append(
            SourceCandidates(
                source_id=source_id,
                ra_deg=top.ra_deg,
                dec_deg=top.dec_deg,
                significance=flags[0].significance,
                max_sigma_dev=top.max_sigma_dev,
                baseline_flux_jy=top.baseline_flux_jy,
                peak_flux_jy=top.peak_flux_jy,
                first_detection_at=min(firsts) if firsts else None,
                last_detection_at=max(lasts) if lasts else None,
                flagged_at=max(flagged) if flagged else None,
                status=statuses.pop() if len(statuses) == 1 else None,
                flags=flags,
            )
        )
    return out


@router.get(
    "/by-source",
    response_model=Page[SourceCandidates],
    summary="ESE candidates, one row per source",
)
def candidates_by_source(
    db: ProductsDb,
    settings: SettingsDep,
    paging: PagingDep,
    status: Annotated[
        list[CandidateStatusIn] | None,
        Query(description="active, investigated, dismissed (repeatable)."),
    ] = None,
    flag_type: Annotated[str | None, Query(pattern=r"^(variability|rapid_change|user)$")] = None,
    source_id: Annotated[str | None, Query(max_length=200, pattern=TEXT_PATTERN)] = None,
    sort: Annotated[
        str,
        Query(
            pattern=r"^-?(significance|sigma_deviation|flagged_at|source_id)$",
            description="significance (the largest of a source's flags), sigma_deviation, "
            "flagged_at (newest flag), source_id; '-' for descending.",
        ),
    ] = "-significance",
) -> Page[SourceCandidates]:
    """The candidates matching the filters, grouped by source: every flag of a source
    (type, significance, status, detection times) in one row; ``count`` counts sources."""
    filters = [
        Filter("status", "in", list(status)) if status else None,
        Filter("flag_type", "eq", flag_type) if flag_type else None,
        Filter("source_id", "eq", source_id) if source_id else None,
    ]
    with db.read() as conn:
        rows, _ = listing.list_page(
            conn, api_views.CANDIDATES, listing.Query.build(filters), limit=BY_SOURCE_MAX,
            offset=0,
        )  # fmt: skip
    grouped = group_by_source(rows, with_points(db, rows, **ese_rules_of(settings)))
    key = BY_SOURCE_SORTS[sort.lstrip("-")]
    grouped.sort(key=lambda r: r.source_id)
    grouped.sort(key=key, reverse=sort.startswith("-"))
    return Page[SourceCandidates](
        data=grouped[paging.offset : paging.offset + paging.limit],
        count=len(grouped),
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/export", summary="Export candidates", response_class=StreamingResponse)
def export_candidates(
    db: ProductsDb, query: CandidateQuery, format: FormatParam = "csv"
) -> StreamingResponse:
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
    status: Annotated[CandidateStatusIn | None, Query()] = "active",
) -> Page[EseCandidateWithSource]:
    """The specification's query: candidates joined with their variability
    statistics, most significant first (``status`` null: every status)."""
    table_status = status or None
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
    return candidate_or_404(db, settings, candidate_id)


@router.post(
    "/{candidate_id}/status",
    response_model=ESECandidate,
    dependencies=[WriteAccess],
    summary="Change a candidate's status",
)
def change_status(state: State, candidate_id: CandidateId, body: StatusChange) -> ESECandidate:
    """Move a candidate to active, investigated or dismissed (the spec's resolved /
    false_positive are synonyms), with a dated note. Moves the workflow does not allow
    (e.g. dismissed -> investigated) answer 400 naming the allowed ones."""
    set_candidate_status(
        state.dbs,
        candidate_id=candidate_id,
        status=body.status,
        note=body.note,
        author=body.author,
    )
    return candidate_or_404(state.dbs.products, state.settings, candidate_id)


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
        row = found_or_404(
            eq.get_candidate(conn, candidate_id=candidate_id),
            f"no ESE candidate with id {candidate_id}",
        )
        notes = ese_rules.append_note(row.notes, body.note, author=body.author, at=time.time())
        eq.update_candidate(conn, candidate_id=candidate_id, values={"notes": notes})
    return candidate_or_404(db, settings, candidate_id)
