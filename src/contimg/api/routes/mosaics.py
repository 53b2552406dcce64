"""Mosaics: the spec's recent-mosaics query (filtered, paged), detail, thumbnail, FITS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse, Response, StreamingResponse

from contimg.api import files, imaging
from contimg.api.deps import (
    TEXT_PATTERN,
    FormatParam,
    PagingDep,
    ProductsDb,
    ReadAccess,
    SettingsDep,
    export_response,
    load_or_404,
    page_of,
    sort_param,
)
from contimg.api.params import FITS, PNG, FDeg, MaxSize, Radius, StretchQ, cone
from contimg.db.engine import Database
from contimg.db.queries import api_views, listing
from contimg.db.queries.listing import Filter, like_contains
from contimg.errors import NotFoundError
from contimg.models import MosaicRow, Page, RecentMosaic
from contimg.science.stretch import render_png

router = APIRouter(prefix="/mosaics", tags=["mosaics"], dependencies=[ReadAccess])

MosaicId = Annotated[int, Path(ge=1, le=2**62)]
F = Annotated[float | None, Query(allow_inf_nan=False)]


async def _query(
    name_contains: Annotated[str | None, Query(max_length=200, pattern=TEXT_PATTERN)] = None,
    mjd_min: Annotated[F, Query(description="Mosaics ending at or after this MJD.")] = None,
    mjd_max: Annotated[F, Query(description="Mosaics starting at or before this MJD.")] = None,
    created_since: F = None,
    ra_deg: FDeg = None,
    dec_deg: FDeg = None,
    radius_deg: Radius = None,
    sort: Annotated[str | None, sort_param(api_views.MOSAICS)] = None,
) -> listing.Query:
    return listing.Query.build(
        [
            Filter("name", "like", like_contains(name_contains)) if name_contains else None,
            Filter("end_mjd", "ge", mjd_min) if mjd_min is not None else None,
            Filter("start_mjd", "le", mjd_max) if mjd_max is not None else None,
            Filter("created_at", "ge", created_since) if created_since is not None else None,
        ],
        cone=cone(ra_deg, dec_deg, radius_deg, "center_ra_deg", "center_dec_deg"),
        sort=sort,
    )


MosaicQuery = Annotated[listing.Query, Depends(_query)]


@router.get("", response_model=Page[RecentMosaic], summary="Recent mosaics")
def list_mosaics(db: ProductsDb, query: MosaicQuery, paging: PagingDep) -> Page[RecentMosaic]:
    """The spec's recent-mosaics query (hours, noise in mJy), newest first by default."""
    return page_of(db, api_views.MOSAICS, query, paging, RecentMosaic.model_validate)


@router.get("/export", summary="Export mosaics", response_class=StreamingResponse)
def export_mosaics(
    db: ProductsDb, query: MosaicQuery, format: FormatParam = "csv"
) -> StreamingResponse:
    return export_response(db, api_views.MOSAICS, query, format)


def _mosaic(db: Database, mosaic_id: int) -> MosaicRow:
    return load_or_404(
        db,
        api_views.MOSAICS,
        column="id",
        value=mosaic_id,
        convert=MosaicRow.model_validate,
        missing=f"no mosaic with id {mosaic_id}",
    )


@router.get("/{mosaic_id}", response_model=MosaicRow, summary="Mosaic detail")
def get_mosaic(db: ProductsDb, mosaic_id: MosaicId) -> MosaicRow:
    return _mosaic(db, mosaic_id)


@router.get(
    "/{mosaic_id}/thumbnail.png",
    summary="Mosaic thumbnail",
    response_class=Response,
    responses=PNG,
)
def mosaic_thumbnail(
    db: ProductsDb,
    settings: SettingsDep,
    mosaic_id: MosaicId,
    max_size: MaxSize = 512,
    stretch: StretchQ = "asinh",
) -> Response:
    """The stored thumbnail when there is one (and no other size was asked for);
    otherwise rendered from the FITS with a robust stretch."""
    row = _mosaic(db, mosaic_id)
    if row.thumbnail_path and max_size == 512 and stretch == "asinh":
        try:
            path = files.check_file(settings, row.thumbnail_path)
            return FileResponse(path, media_type="image/png")
        except NotFoundError:
            pass
    plane = imaging.read_plane(files.check_file(settings, row.path))
    png = render_png(plane.data, max_size_px=max_size, stretch=stretch)
    return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=300"})


@router.get(
    "/{mosaic_id}/fits",
    summary="Download a mosaic (FITS)",
    response_class=FileResponse,
    responses=FITS,
)
def mosaic_fits(db: ProductsDb, settings: SettingsDep, mosaic_id: MosaicId) -> FileResponse:
    row = _mosaic(db, mosaic_id)
    path = files.check_file(settings, row.path)
    return FileResponse(path, media_type="application/fits", filename=path.name)
