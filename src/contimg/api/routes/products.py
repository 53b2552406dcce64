"""Measurement Sets and images: lists, detail, previews, cutouts and FITS download."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse, Response, StreamingResponse

from contimg.api import files, imaging
from contimg.api.deps import (
    TEXT_PATTERN,
    CatalogDb,
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
from contimg.api.params import FITS, PNG, FDeg, MaxSize, Radius, StretchName, StretchQ, cone
from contimg.api.schemas import ImageDetail, ImageQc, MsDetail
from contimg.catalog.cone import cone_search
from contimg.db.engine import Database
from contimg.db.queries import api_views, listing
from contimg.db.queries import photometry as phot_queries
from contimg.db.queries.listing import Filter, like_contains
from contimg.errors import ContimgError, NotFoundError
from contimg.models import ImageRow, MsIndexRow, Page
from contimg.science.stretch import render_png

router = APIRouter(tags=["products"], dependencies=[ReadAccess])

Text = Annotated[str | None, Query(max_length=500, pattern=TEXT_PATTERN)]
FMjd = Annotated[float | None, Query(allow_inf_nan=False, ge=-1e6, le=1e6)]
ImageId = Annotated[int, Path(ge=1, le=2**62)]
# ----------------------------------------------------------------- measurement sets


async def _ms_query(
    stage: Annotated[
        Literal["converted", "calibrated", "imaged", "photometry_complete"] | None, Query()
    ] = None,
    status: Annotated[Literal["ok", "failed", "flagged"] | None, Query()] = None,
    field_name: Text = None,
    path_contains: Text = None,
    mjd_min: FMjd = None,
    mjd_max: FMjd = None,
    cal_applied: bool | None = None,
    ra_deg: FDeg = None,
    dec_deg: FDeg = None,
    radius_deg: Radius = None,
    sort: Annotated[str | None, sort_param(api_views.MS)] = None,
) -> listing.Query:
    return listing.Query.build(
        [
            Filter("stage", "eq", stage) if stage else None,
            Filter("status", "eq", status) if status else None,
            Filter("field_name", "eq", field_name) if field_name else None,
            Filter("path", "like", like_contains(path_contains)) if path_contains else None,
            Filter("mid_mjd", "ge", mjd_min) if mjd_min is not None else None,
            Filter("mid_mjd", "le", mjd_max) if mjd_max is not None else None,
            Filter("cal_applied", "eq", int(cal_applied)) if cal_applied is not None else None,
        ],
        cone=cone(ra_deg, dec_deg, radius_deg, "pointing_ra_deg", "pointing_dec_deg"),
        sort=sort,
    )


MsQuery = Annotated[listing.Query, Depends(_ms_query)]


@router.get("/ms", response_model=Page[MsIndexRow], summary="List Measurement Sets")
def list_ms(db: ProductsDb, query: MsQuery, paging: PagingDep) -> Page[MsIndexRow]:
    """Measurement Sets by stage, status, field, time and pointing."""
    return page_of(db, api_views.MS, query, paging, MsIndexRow.model_validate)


@router.get("/ms/export", summary="Export Measurement Sets", response_class=StreamingResponse)
def export_ms(db: ProductsDb, query: MsQuery, format: FormatParam = "csv") -> StreamingResponse:
    return export_response(db, api_views.MS, query, format)


@router.get("/ms/detail", response_model=MsDetail, summary="Measurement Set detail")
def get_ms(
    db: ProductsDb,
    path: Annotated[str, Query(min_length=1, max_length=2000, pattern=TEXT_PATTERN)],
) -> MsDetail:
    """A Measurement Set (by its path, the table's key) and its images."""
    with db.read() as conn:
        ms = listing.first_row(conn, api_views.MS, column="path", value=path)
        if ms is None:
            raise NotFoundError(f"no Measurement Set {path!r}")
        imgs, _ = listing.list_page(
            conn,
            api_views.IMAGES,
            listing.Query.build([Filter("ms_path", "eq", path)], sort="id"),
            limit=1000,
            offset=0,
        )
    return MsDetail(
        ms=MsIndexRow.model_validate(ms), images=[ImageRow.model_validate(r) for r in imgs]
    )


# ------------------------------------------------------------------------ images


async def _image_query(
    type: Annotated[Literal["image", "pbcor", "residual", "mosaic"] | None, Query()] = None,
    ms_path: Text = None,
    field_name: Text = None,
    created_since: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    created_until: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    pbcor: bool | None = None,
    max_noise_jy: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    min_dynamic_range: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    ra_deg: FDeg = None,
    dec_deg: FDeg = None,
    radius_deg: Radius = None,
    sort: Annotated[str | None, sort_param(api_views.IMAGES)] = None,
) -> listing.Query:
    return listing.Query.build(
        [
            Filter("type", "eq", type) if type else None,
            Filter("ms_path", "eq", ms_path) if ms_path else None,
            Filter("field_name", "eq", field_name) if field_name else None,
            Filter("created_at", "ge", created_since) if created_since is not None else None,
            Filter("created_at", "lt", created_until) if created_until is not None else None,
            Filter("pbcor", "eq", int(pbcor)) if pbcor is not None else None,
            Filter("noise_jy", "le", max_noise_jy) if max_noise_jy is not None else None,
            Filter("dynamic_range", "ge", min_dynamic_range)
            if min_dynamic_range is not None
            else None,
        ],
        cone=cone(ra_deg, dec_deg, radius_deg, "center_ra_deg", "center_dec_deg"),
        sort=sort,
    )


ImageQuery = Annotated[listing.Query, Depends(_image_query)]


@router.get("/images", response_model=Page[ImageRow], summary="List images")
def list_images(db: ProductsDb, query: ImageQuery, paging: PagingDep) -> Page[ImageRow]:
    """Images by type, MS, field, time, quality and sky position."""
    return page_of(db, api_views.IMAGES, query, paging, ImageRow.model_validate)


@router.get("/images/export", summary="Export images", response_class=StreamingResponse)
def export_images(
    db: ProductsDb, query: ImageQuery, format: FormatParam = "csv"
) -> StreamingResponse:
    return export_response(db, api_views.IMAGES, query, format)


def _image(db: Database, image_id: int) -> ImageRow:
    return load_or_404(
        db,
        api_views.IMAGES,
        column="id",
        value=image_id,
        convert=ImageRow.model_validate,
        missing=f"no image with id {image_id}",
    )


def _image_file(settings: Any, row: ImageRow) -> FsPath:
    if (row.format or "fits") != "fits":
        raise ContimgError(
            f"image {row.id} ({row.path}) is a {row.format} image; only FITS can be served"
        )
    return files.check_file(settings, row.path)


@router.get("/images/{image_id}", response_model=ImageDetail, summary="Image detail")
def get_image(db: ProductsDb, settings: SettingsDep, image_id: ImageId) -> ImageDetail:
    row = _image(db, image_id)
    with db.read() as conn:
        n = listing.count(
            conn, api_views.PHOTOMETRY, listing.Query.build([Filter("image_path", "eq", row.path)])
        )
        qc_row = phot_queries.get_image_qc(conn, image_path=row.path)
    qc = None
    if qc_row is not None:
        reasons = json.loads(qc_row.reasons) if qc_row.reasons else []
        qc = ImageQc.model_validate({**asdict(qc_row), "reasons": reasons})
    try:
        files.check_file(settings, row.path)
        available = True
    except NotFoundError:
        available = False
    return ImageDetail(image=row, n_photometry=n, file_available=available, qc=qc)


@router.get(
    "/images/{image_id}/fits",
    summary="Download an image (FITS)",
    response_class=FileResponse,
    responses=FITS,
)
def image_fits(db: ProductsDb, settings: SettingsDep, image_id: ImageId) -> FileResponse:
    row = _image(db, image_id)
    path = _image_file(settings, row)
    return FileResponse(path, media_type="application/fits", filename=path.name)


Pct = Annotated[float, Query(ge=0, le=100, allow_inf_nan=False)]


def _png(
    plane: imaging.Plane, *, max_size: int, stretch: StretchName, lo: float, hi: float
) -> bytes:
    if not lo < hi:
        raise listing.ListingError(
            f"lower_percentile {lo} must be below upper_percentile {hi}", field="lower_percentile"
        )
    return render_png(
        plane.data, max_size_px=max_size, stretch=stretch, lower_percentile=lo, upper_percentile=hi
    )


def _overlay(
    png: bytes, plane: imaging.Plane, catalog: Any, *, max_size: int, min_flux_mjy: float | None
) -> bytes:
    ra_c, dec_c, radius = imaging.field_radius_deg(plane)
    found = cone_search(
        catalog,
        ra_deg=ra_c,
        dec_deg=dec_c,
        radius_deg=min(max(radius, 1e-6), 180.0),
        min_flux_mjy=min_flux_mjy,
    )
    ra = np.array([s.ra_deg for s in found], dtype=np.float64)
    dec = np.array([s.dec_deg for s in found], dtype=np.float64)
    return imaging.overlay_circles(png, plane=plane, max_size_px=max_size, ra_deg=ra, dec_deg=dec)


@router.get(
    "/images/{image_id}/preview.png",
    summary="PNG preview of an image",
    response_class=Response,
    responses=PNG,
)
def image_preview(
    db: ProductsDb,
    catalog: CatalogDb,
    settings: SettingsDep,
    image_id: ImageId,
    max_size: MaxSize = 512,
    stretch: StretchQ = "asinh",
    lower_percentile: Pct = 0.5,
    upper_percentile: Pct = 99.8,
    overlay: Annotated[bool, Query(description="Circle the master-catalog sources.")] = False,
    overlay_min_flux_mjy: Annotated[
        float | None, Query(ge=0, allow_inf_nan=False, description="Only brighter sources.")
    ] = None,
) -> Response:
    """The image with a robust (percentile) stretch, north up; with ``overlay`` the
    master-catalog sources in the field are circled."""
    row = _image(db, image_id)
    plane = imaging.read_plane(_image_file(settings, row))
    png = _png(plane, max_size=max_size, stretch=stretch, lo=lower_percentile, hi=upper_percentile)
    if overlay:
        png = _overlay(png, plane, catalog, max_size=max_size, min_flux_mjy=overlay_min_flux_mjy)
    return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=60"})


@router.get(
    "/images/{image_id}/cutout",
    summary="Cutout around a position (PNG or FITS)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "application/fits": {}}}},
)
def image_cutout(
    db: ProductsDb,
    catalog: CatalogDb,
    settings: SettingsDep,
    image_id: ImageId,
    ra_deg: Annotated[float, Query(ge=-360, le=360, allow_inf_nan=False)],
    dec_deg: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)],
    size_arcmin: Annotated[float, Query(gt=0, le=600, allow_inf_nan=False)] = 10.0,
    format: Annotated[Literal["png", "fits"], Query()] = "png",
    max_size: MaxSize = 256,
    stretch: StretchQ = "asinh",
    lower_percentile: Pct = 0.5,
    upper_percentile: Pct = 99.8,
    overlay: bool = False,
) -> Response:
    """A square of ``size_arcmin`` around (ra_deg, dec_deg), as PNG or FITS (with WCS)."""
    row = _image(db, image_id)
    plane = imaging.read_plane(_image_file(settings, row))
    cut = imaging.cutout(plane, ra_deg=ra_deg % 360.0, dec_deg=dec_deg, size_deg=size_arcmin / 60)
    if format == "fits":
        name = f"image{image_id}_cutout.fits"
        return Response(
            imaging.fits_bytes(cut),
            media_type="application/fits",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    png = _png(cut, max_size=max_size, stretch=stretch, lo=lower_percentile, hi=upper_percentile)
    if overlay:
        png = _overlay(png, cut, catalog, max_size=max_size, min_flux_mjy=None)
    return Response(png, media_type="image/png")
