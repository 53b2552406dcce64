"""Calibration sets and tables, the set that applies at a time, (de)activation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from contimg.api.deps import (
    TEXT_PATTERN,
    CalDb,
    FormatParam,
    PagingDep,
    ReadAccess,
    SettingsDep,
    WriteAccess,
    export_response,
    page_of,
    sort_param,
)
from contimg.api.params import now_mjd
from contimg.api.schemas import ApplicableCalibration, SetActivation
from contimg.calibration.registry import choose_set
from contimg.db.queries import api_views, listing, status
from contimg.db.queries import calibration as calq
from contimg.db.queries.listing import Filter, like_contains
from contimg.errors import NotFoundError
from contimg.models import CalibrationSet, CaltableRow, Page

router = APIRouter(prefix="/calibration", tags=["calibration"], dependencies=[ReadAccess])

SetName = Annotated[str, Path(max_length=200, pattern=TEXT_PATTERN)]
Mjd = Annotated[float | None, Query(allow_inf_nan=False, ge=0, le=200_000, description="MJD.")]


@router.get("/sets", response_model=Page[CalibrationSet], summary="Calibration sets")
def list_sets(
    db: CalDb,
    paging: PagingDep,
    active: Annotated[bool | None, Query(description="Only (in)active sets.")] = None,
    covers_mjd: Mjd = None,
    name_contains: Annotated[str | None, Query(max_length=200, pattern=TEXT_PATTERN)] = None,
) -> Page[CalibrationSet]:
    """Every calibration set with its tables and validity window, newest first."""
    with db.read() as conn:
        sets = status.calibration_sets(conn, now_mjd=now_mjd())
    if active is not None:
        sets = [s for s in sets if s.active == active]
    if covers_mjd is not None:
        sets = [s for s in sets if s.valid_start_mjd <= covers_mjd <= s.valid_end_mjd]
    if name_contains:
        sets = [s for s in sets if name_contains in s.set_name]
    window = sets[paging.offset : paging.offset + paging.limit]
    return Page[CalibrationSet](
        data=window, count=len(sets), limit=paging.limit, offset=paging.offset
    )


async def _table_query(
    set_name: Annotated[str | None, Query(max_length=200, pattern=TEXT_PATTERN)] = None,
    name_contains: Annotated[str | None, Query(max_length=200, pattern=TEXT_PATTERN)] = None,
    table_type: Annotated[str | None, Query(pattern=r"^(K|BP|G)$")] = None,
    active: bool | None = None,
    covers_mjd: Mjd = None,
    sort: Annotated[str | None, sort_param(api_views.CALTABLES)] = None,
) -> listing.Query:
    return listing.Query.build(
        [
            Filter("set_name", "eq", set_name) if set_name else None,
            Filter("set_name", "like", like_contains(name_contains)) if name_contains else None,
            Filter("table_type", "eq", table_type) if table_type else None,
            Filter("active", "eq", int(active)) if active is not None else None,
            Filter("valid_start_mjd", "le", covers_mjd) if covers_mjd is not None else None,
            Filter("valid_end_mjd", "ge", covers_mjd) if covers_mjd is not None else None,
        ],
        sort=sort,
    )


TableQuery = Annotated[listing.Query, Depends(_table_query)]


@router.get("/tables", response_model=Page[CaltableRow], summary="Calibration tables")
def list_tables(db: CalDb, query: TableQuery, paging: PagingDep) -> Page[CaltableRow]:
    """Rows of the calibration registry with their validity windows."""
    return page_of(db, api_views.CALTABLES, query, paging, CaltableRow.model_validate)


@router.get("/tables/export", summary="Export calibration tables", response_class=StreamingResponse)
def export_tables(db: CalDb, query: TableQuery, format: FormatParam = "csv") -> StreamingResponse:
    return export_response(db, api_views.CALTABLES, query, format)


def _find_set(db: Any, name: str) -> CalibrationSet | None:
    with db.read() as conn:
        sets = status.calibration_sets(conn, now_mjd=now_mjd())
    return next((s for s in sets if s.set_name == name), None)


@router.get("/applicable", response_model=ApplicableCalibration, summary="Set applying at T")
def applicable(
    db: CalDb,
    settings: SettingsDep,
    mjd: Annotated[
        float | None, Query(allow_inf_nan=False, ge=0, le=200_000, description="Default: now.")
    ] = None,
) -> ApplicableCalibration:
    """The calibration set the pipeline applies to data taken at ``mjd``, by the
    calibration stage's own lookup rule: the newest active set whose window covers
    the time, else the nearest one within ``calibration.extrapolate_max_h`` hours
    (marked ``extrapolated``); ``set`` is null when none qualifies."""
    t = now_mjd() if mjd is None else mjd
    max_h = settings.calibration.extrapolate_max_h
    with db.read() as conn:
        rows = calq.candidate_rows(conn, mjd=t, max_extrapolate_days=max_h / 24.0)
    chosen = choose_set(rows, mjd=t, extrapolate_max_h=max_h)
    if chosen is None:
        return ApplicableCalibration(mjd=t, set=None)
    return ApplicableCalibration(
        mjd=t,
        set=_find_set(db, chosen.set_name),
        extrapolated=chosen.extrapolated,
        distance_h=chosen.distance_h,
    )


@router.get("/sets/{set_name}", response_model=CalibrationSet, summary="Calibration set")
def get_set(db: CalDb, set_name: SetName) -> CalibrationSet:
    found = _find_set(db, set_name)
    if found is None:
        raise NotFoundError(f"no calibration set {set_name!r}")
    return found


def _activate(db: Any, set_name: str, active: bool) -> SetActivation:
    with db.write() as conn:
        n = calq.set_active(conn, set_name=set_name, active=active)
    if n == 0:
        raise NotFoundError(f"no calibration set {set_name!r}")
    return SetActivation(set_name=set_name, active=active, n_tables=n)


@router.post(
    "/sets/{set_name}/activate",
    response_model=SetActivation,
    dependencies=[WriteAccess],
    summary="Activate a set",
)
def activate_set(db: CalDb, set_name: SetName) -> SetActivation:
    """Mark every table of the set active (used again for the times it covers)."""
    return _activate(db, set_name, True)


@router.post(
    "/sets/{set_name}/deactivate",
    response_model=SetActivation,
    dependencies=[WriteAccess],
    summary="Deactivate a set",
)
def deactivate_set(db: CalDb, set_name: SetName) -> SetActivation:
    """Mark every table of the set inactive (no longer applied)."""
    return _activate(db, set_name, False)
