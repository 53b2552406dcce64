"""Sources: search (cone, flux, variability), detail, light curve, photometry,
variability scatter data, the master catalog, and flagging a source."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import TypeAdapter

from contimg.api.candidates import candidate_or_404, candidates_for
from contimg.api.deps import (
    TEXT_PATTERN,
    CatalogDb,
    FormatParam,
    PagingDep,
    ProductsDb,
    ReadAccess,
    SettingsDep,
    State,
    WriteAccess,
    export_response,
    page_of,
    sort_param,
)
from contimg.api.params import FDeg, Radius, cone
from contimg.api.schemas import (
    CatalogConeItem,
    FlagIn,
    LightCurve,
    SourceDetail,
    SourceListItem,
    VariabilityScatter,
)
from contimg.catalog.cone import cone_search
from contimg.db.queries import api_views, listing
from contimg.db.queries import sources as catalog_queries
from contimg.db.queries.listing import Filter, like_contains
from contimg.errors import NotFoundError
from contimg.models import ESECandidate, Page, PhotometryRow, SourceRow, utc_from_unix
from contimg.variability.candidates import user_flag

router = APIRouter(tags=["sources"], dependencies=[ReadAccess])

SourceId = Annotated[str, Path(min_length=1, max_length=200, pattern=TEXT_PATTERN)]
F = Annotated[float | None, Query(allow_inf_nan=False)]

_LIGHT_CURVE = TypeAdapter(LightCurve)


def to_source_item(r: listing.ListingRow) -> SourceListItem:
    """A ``variability_stats`` row as the API's source item."""
    return SourceListItem(
        source_id=r["source_id"],
        ra_deg=r["ra_deg"],
        dec_deg=r["dec_deg"],
        nvss_flux_mjy=r["nvss_flux_mjy"],
        n_obs=int(r["n_obs"] or 0),
        mean_flux_mjy=r["mean_flux_mjy"],
        std_flux_mjy=r["std_flux_mjy"],
        chi2_nu=r["chi2_nu"],
        sigma_deviation=r["sigma_deviation"],
        last_measured_at=utc_from_unix(r["last_measured_at"]),
        min_flux_mjy=r["min_flux_mjy"],
        max_flux_mjy=r["max_flux_mjy"],
        eta_metric=r["eta_metric"],
        last_mjd=r["last_mjd"],
        updated_at=r["updated_at"],
    )


async def _source_query(
    ra_deg: FDeg = None,
    dec_deg: FDeg = None,
    radius_deg: Radius = None,
    source_id_contains: Annotated[str | None, Query(max_length=200, pattern=TEXT_PATTERN)] = None,
    min_flux_mjy: F = None,
    max_flux_mjy: F = None,
    min_nvss_flux_mjy: F = None,
    max_nvss_flux_mjy: F = None,
    min_n_obs: Annotated[int | None, Query(ge=0, le=10**9)] = None,
    min_chi2_nu: F = None,
    min_eta: F = None,
    min_sigma_deviation: F = None,
    last_mjd_since: F = None,
    sort: Annotated[str | None, sort_param(api_views.VARIABILITY)] = None,
) -> listing.Query:
    def ge(col: str, v: float | None) -> Filter | None:
        return Filter(col, "ge", v) if v is not None else None

    def le(col: str, v: float | None) -> Filter | None:
        return Filter(col, "le", v) if v is not None else None

    return listing.Query.build(
        [
            Filter("source_id", "like", like_contains(source_id_contains))
            if source_id_contains
            else None,
            ge("mean_flux_mjy", min_flux_mjy),
            le("mean_flux_mjy", max_flux_mjy),
            ge("nvss_flux_mjy", min_nvss_flux_mjy),
            le("nvss_flux_mjy", max_nvss_flux_mjy),
            ge("n_obs", min_n_obs),
            ge("chi2_nu", min_chi2_nu),
            ge("eta_metric", min_eta),
            ge("sigma_deviation", min_sigma_deviation),
            ge("last_mjd", last_mjd_since),
        ],
        cone=cone(ra_deg, dec_deg, radius_deg, "ra_deg", "dec_deg"),
        sort=sort,
    )


SourceQuery = Annotated[listing.Query, Depends(_source_query)]


@router.get("/sources", response_model=Page[SourceListItem], summary="Search sources")
def list_sources(db: ProductsDb, query: SourceQuery, paging: PagingDep) -> Page[SourceListItem]:
    """Measured sources (with variability statistics) by cone, flux and variability,
    most deviant first by default."""
    return page_of(db, api_views.VARIABILITY, query, paging, to_source_item)


@router.get("/sources/export", summary="Export sources", response_class=StreamingResponse)
def export_sources(
    db: ProductsDb, query: SourceQuery, format: FormatParam = "csv"
) -> StreamingResponse:
    return export_response(db, api_views.VARIABILITY, query, format)


@router.get(
    "/sources/variability-scatter",
    response_model=VariabilityScatter,
    summary="Variability scatter data",
)
def variability_scatter(
    db: ProductsDb,
    query: SourceQuery,
    max_points: Annotated[int, Query(ge=1, le=200_000)] = 50_000,
) -> VariabilityScatter:
    """Per-source statistics as column arrays, for plotting e.g. eta against V or
    sigma_deviation against mean flux; every matching source up to ``max_points``."""
    with db.read() as conn:
        rows, total = listing.list_page(
            conn, api_views.VARIABILITY, query, limit=max_points, offset=0
        )

    def v_index(r: listing.ListingRow) -> float | None:
        mean, std = r["mean_flux_mjy"], r["std_flux_mjy"]
        if mean is None or std is None or mean == 0:
            return None
        value = float(std) / float(mean)
        return value if math.isfinite(value) else None

    return VariabilityScatter(
        count=total,
        truncated=total > len(rows),
        source_id=[r["source_id"] for r in rows],
        ra_deg=[r["ra_deg"] for r in rows],
        dec_deg=[r["dec_deg"] for r in rows],
        mean_flux_mjy=[r["mean_flux_mjy"] for r in rows],
        n_obs=[r["n_obs"] for r in rows],
        chi2_nu=[r["chi2_nu"] for r in rows],
        eta_metric=[r["eta_metric"] for r in rows],
        sigma_deviation=[r["sigma_deviation"] for r in rows],
        v_index=[v_index(r) for r in rows],
    )


@router.get("/sources/{source_id}", response_model=SourceDetail, summary="Source detail")
def get_source(
    db: ProductsDb, catalog: CatalogDb, settings: SettingsDep, source_id: SourceId
) -> SourceDetail:
    """The master-catalog row, the variability statistics and the ESE candidates of a
    source (404 when it is in neither database)."""
    with catalog.read() as conn:
        cat = catalog_queries.get_source(conn, source_id=source_id)
    with db.read() as conn:
        stats = listing.first_row(conn, api_views.VARIABILITY, column="source_id", value=source_id)
    cands = candidates_for(db, settings, [Filter("source_id", "eq", source_id)], limit=1000)
    if cat is None and stats is None and not cands:
        raise NotFoundError(f"no source {source_id!r} in the catalog or the measurements")
    return SourceDetail(
        source_id=source_id,
        catalog=SourceRow.model_validate(cat) if cat is not None else None,
        variability=to_source_item(stats) if stats is not None else None,
        candidates=cands,
    )


@router.get("/sources/{source_id}/lightcurve", response_model=LightCurve, summary="Light curve")
def light_curve(db: ProductsDb, source_id: SourceId) -> Response:
    """The spec's flux time series: every measurement of the source, oldest first,
    in mJy, with the image's field and noise; each point also names its image and
    carries its quality flags and raw (un-normalised) flux."""
    with db.read() as conn:
        points = api_views.light_curve(conn, source_id=source_id)
        if not points:
            exists = listing.count(
                conn,
                api_views.VARIABILITY,
                listing.Query.build([Filter("source_id", "eq", source_id)]),
            )
            if not exists:
                raise NotFoundError(f"no measurements of source {source_id!r}")
    # One validation pass over the plain rows, then pydantic's JSON writer (NaN and
    # infinities become null): ~0.7 ms for 500 points, against ~1.8 ms for json.dumps
    # with a per-value clean-up (docs/api.md).
    body = _LIGHT_CURVE.dump_json(
        _LIGHT_CURVE.validate_python(
            {"source_id": source_id, "points": points}, from_attributes=True
        )
    )
    return Response(body, media_type="application/json")


@router.post(
    "/sources/{source_id}/flag",
    response_model=ESECandidate,
    dependencies=[WriteAccess],
    status_code=201,
    summary="Flag a source as an ESE candidate",
)
def flag_source(state: State, source_id: SourceId, body: FlagIn) -> ESECandidate:
    """Flag a source by hand (flag type 'user', significance its sigma_deviation).
    Flagging a source that already has an open user flag appends the note to it."""
    cid = user_flag(state.dbs, source_id=source_id, note=body.note, author=body.flagged_by)
    return candidate_or_404(state.dbs.products, state.settings, cid)


# -------------------------------------------------------------------- photometry


async def _phot_query(
    source_id: Annotated[str | None, Query(max_length=200, pattern=TEXT_PATTERN)] = None,
    image_path: Annotated[str | None, Query(max_length=2000, pattern=TEXT_PATTERN)] = None,
    mjd_min: F = None,
    mjd_max: F = None,
    min_snr: F = None,
    good_only: Annotated[bool, Query(description="Only rows without flag bits.")] = False,
    sort: Annotated[str | None, sort_param(api_views.PHOTOMETRY)] = None,
) -> listing.Query:
    return listing.Query.build(
        [
            Filter("source_id", "eq", source_id) if source_id else None,
            Filter("image_path", "eq", image_path) if image_path else None,
            Filter("mjd", "ge", mjd_min) if mjd_min is not None else None,
            Filter("mjd", "le", mjd_max) if mjd_max is not None else None,
            Filter("snr", "ge", min_snr) if min_snr is not None else None,
            Filter("flags", "eq", 0) if good_only else None,
        ],
        sort=sort,
    )


PhotQuery = Annotated[listing.Query, Depends(_phot_query)]


@router.get("/photometry", response_model=Page[PhotometryRow], summary="Photometry rows")
def list_photometry(db: ProductsDb, query: PhotQuery, paging: PagingDep) -> Page[PhotometryRow]:
    """Forced-photometry measurements by source, image, time and S/N."""
    return page_of(db, api_views.PHOTOMETRY, query, paging, PhotometryRow.model_validate)


@router.get("/photometry/export", summary="Export photometry", response_class=StreamingResponse)
def export_photometry(
    db: ProductsDb, query: PhotQuery, format: FormatParam = "csv"
) -> StreamingResponse:
    return export_response(db, api_views.PHOTOMETRY, query, format)


# ------------------------------------------------------------------ master catalog


async def _catalog_query(
    source_id_contains: Annotated[str | None, Query(max_length=200, pattern=TEXT_PATTERN)] = None,
    min_flux_mjy: F = None,
    max_flux_mjy: F = None,
    min_snr: F = None,
    resolved: bool | None = None,
    confused: bool | None = None,
    has_vlass: bool | None = None,
    sort: Annotated[str | None, sort_param(api_views.CATALOG)] = None,
) -> listing.Query:
    return listing.Query.build(
        [
            Filter("source_id", "like", like_contains(source_id_contains))
            if source_id_contains
            else None,
            Filter("s_nvss", "ge", min_flux_mjy / 1e3) if min_flux_mjy is not None else None,
            Filter("s_nvss", "le", max_flux_mjy / 1e3) if max_flux_mjy is not None else None,
            Filter("snr_nvss", "ge", min_snr) if min_snr is not None else None,
            Filter("resolved_flag", "eq", int(resolved)) if resolved is not None else None,
            Filter("confusion_flag", "eq", int(confused)) if confused is not None else None,
            Filter("s_vlass", "not_null" if has_vlass else "is_null")
            if has_vlass is not None
            else None,
        ],
        sort=sort,
    )


CatalogQuery = Annotated[listing.Query, Depends(_catalog_query)]


@router.get("/catalog/sources", response_model=Page[SourceRow], summary="Master catalog")
def list_catalog(db: CatalogDb, query: CatalogQuery, paging: PagingDep) -> Page[SourceRow]:
    """Rows of the master catalog (NVSS with FIRST and VLASS matches); fluxes in Jy
    as stored, filters in mJy."""
    return page_of(db, api_views.CATALOG, query, paging, SourceRow.model_validate)


@router.get("/catalog/sources/export", summary="Export catalog", response_class=StreamingResponse)
def export_catalog(
    db: CatalogDb, query: CatalogQuery, format: FormatParam = "csv"
) -> StreamingResponse:
    return export_response(db, api_views.CATALOG, query, format)


@router.get("/catalog/cone", response_model=Page[CatalogConeItem], summary="Catalog cone search")
def catalog_cone(
    db: CatalogDb,
    paging: PagingDep,
    ra_deg: Annotated[float, Query(ge=-360, le=360, allow_inf_nan=False)],
    dec_deg: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)],
    radius_deg: Annotated[float, Query(ge=1e-6, le=10, allow_inf_nan=False)],
    min_flux_mjy: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
    relation: Literal["sources", "good_references", "final_references"] = "sources",
) -> Page[CatalogConeItem]:
    """Catalog sources within ``radius_deg`` of a position, nearest first (exact on
    the sphere, right across RA 0/360 and at the poles)."""
    found = cone_search(
        db,
        ra_deg=ra_deg % 360.0,
        dec_deg=dec_deg,
        radius_deg=radius_deg,
        min_flux_mjy=min_flux_mjy,
        relation=relation,
    )
    window = found[paging.offset : paging.offset + paging.limit]
    return Page[CatalogConeItem](
        data=[CatalogConeItem.model_validate(s.as_dict()) for s in window],
        count=len(found),
        limit=paging.limit,
        offset=paging.offset,
    )
