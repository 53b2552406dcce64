"""The specification's three query patterns, as typed functions."""

from __future__ import annotations

from typing import Any, NamedTuple

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.engine import Connection

from contimg.db.products import images, mosaics, photometry
from contimg.db.queries import api_views, listing
from contimg.models import EseCandidateWithSource, LightCurvePoint, RecentMosaic

_LIGHT_CURVE = TypeAdapter(list[LightCurvePoint])


class FluxPoint(NamedTuple):
    """A row of the specification's flux time series (:func:`light_curve_statement`)."""

    mjd: float | None
    flux_mjy: float
    error_mjy: float | None
    snr: float | None
    field_name: str | None
    image_noise_mjy: float | None


class LightCurveRow(NamedTuple):
    """A row of the API's light curve: :class:`FluxPoint` plus the image and raw flux."""

    mjd: float | None
    flux_mjy: float
    error_mjy: float | None
    snr: float | None
    field_name: str | None
    image_noise_mjy: float | None
    image_id: int
    image_path: str
    flags: int | None
    raw_flux_mjy: float | None
    raw_error_mjy: float | None


def ese_candidates_with_sources(
    conn: Connection, *, status: str | None = "active", limit: int = 50, offset: int = 0
) -> list[EseCandidateWithSource]:
    """ESE candidates joined with their variability statistics, most significant first
    (the candidates listing, :data:`api_views.CANDIDATES`, read one way for both).

    ``status`` filters on the table's status ('active', 'investigated', 'dismissed');
    None returns every status. As in the specification's pattern (an inner join), a
    candidate whose source has no statistics row is left out.
    """
    filters = [
        listing.Filter("ra_deg", "not_null"),
        listing.Filter("status", "eq", status) if status is not None else None,
    ]
    page = listing.rows(
        conn, api_views.CANDIDATES, listing.Query.build(filters), limit=limit, offset=offset
    )
    return [EseCandidateWithSource.model_validate(r) for r in page]


def light_curve_statement(*, extended: bool = False) -> sa.Select[Any]:
    """The specification's flux time series of one source (bind parameter
    ``source_id``): mJy, oldest first, with the image's field and noise.

    ``extended`` adds, per point, the image's id and path, the quality flags and the
    raw (un-normalised) flux and error (products_0002): the API's light curve. Both
    read photometry through the covering index ``idx_photometry_light_curve``
    (products_0005), whose order (source_id, mjd, id) is the ORDER BY, so there is no
    sort step.
    """
    p, i = photometry, images
    columns: list[sa.ColumnElement[Any]] = [
        p.c.mjd,
        (p.c.peak_jyb * 1000).label("flux_mjy"),
        (p.c.peak_err_jyb * 1000).label("error_mjy"),
        p.c.snr,
        i.c.field_name,
        (i.c.noise_jy * 1000).label("image_noise_mjy"),
    ]
    if extended:
        columns += [
            i.c.id.label("image_id"),
            p.c.image_path,
            p.c.flags,
            (p.c.raw_peak_jyb * 1000).label("raw_flux_mjy"),
            (p.c.raw_peak_err_jyb * 1000).label("raw_error_mjy"),
        ]
    return (
        sa.select(*columns)
        .join(i, p.c.image_path == i.c.path)
        .where(p.c.source_id == sa.bindparam("source_id", type_=p.c.source_id.type))
        .order_by(p.c.mjd.asc(), p.c.id.asc())
    )


# Built once: the dashboard's hottest reads skip building and cache-keying a statement.
_SPEC_LIGHT_CURVE = light_curve_statement()
_API_LIGHT_CURVE = light_curve_statement(extended=True)


def light_curve_rows(conn: Connection, *, source_id: str) -> list[LightCurveRow]:
    """The rows of the extended :func:`light_curve_statement` for ``source_id``,
    fetched in one go."""
    result = conn.execute(_API_LIGHT_CURVE, {"source_id": source_id})
    return [LightCurveRow(*row) for row in result.all()]


def flux_points(conn: Connection, *, source_id: str) -> list[FluxPoint]:
    """The rows of the specification's :func:`light_curve_statement` for ``source_id``."""
    result = conn.execute(_SPEC_LIGHT_CURVE, {"source_id": source_id})
    return [FluxPoint(*row) for row in result.all()]


def flux_timeseries(conn: Connection, *, source_id: str) -> list[LightCurvePoint]:
    """A source's light curve in mJy, oldest first (with the image's field and noise)."""
    # The dashboard's hottest read: validate the whole list in one pass.
    return _LIGHT_CURVE.validate_python(
        flux_points(conn, source_id=source_id), from_attributes=True
    )


def recent_mosaics(conn: Connection, *, limit: int = 20, offset: int = 0) -> list[RecentMosaic]:
    """Mosaics, newest first, with hours of integration and noise in mJy."""
    m = mosaics
    query = (
        sa.select(
            m.c.id,
            m.c.name,
            m.c.path,
            m.c.start_mjd,
            m.c.end_mjd,
            (m.c.integration_sec / 3600.0).label("hours"),
            m.c.n_images,
            m.c.n_sources,
            (m.c.noise_jy * 1000).label("noise_mjy"),
            m.c.thumbnail_path,
        )
        .order_by(m.c.created_at.desc(), m.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [RecentMosaic.model_validate(r._mapping) for r in conn.execute(query)]
