"""The specification's three query patterns, as typed functions."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.engine import Connection

from contimg.db.products import images, mosaics, photometry
from contimg.db.queries import api_views, listing
from contimg.models import EseCandidateWithSource, LightCurvePoint, RecentMosaic

_LIGHT_CURVE = TypeAdapter(list[LightCurvePoint])


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


def light_curve_rows(
    conn: Connection, *, source_id: str, extended: bool = False
) -> list[dict[str, Any]]:
    """The rows of :func:`light_curve_statement` for ``source_id`` as plain dicts,
    fetched in one go."""
    result = conn.execute(
        _API_LIGHT_CURVE if extended else _SPEC_LIGHT_CURVE, {"source_id": source_id}
    )
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


def flux_timeseries(conn: Connection, *, source_id: str) -> list[LightCurvePoint]:
    """A source's light curve in mJy, oldest first (with the image's field and noise)."""
    # The dashboard's hottest read: validate the whole list in one pass.
    return _LIGHT_CURVE.validate_python(light_curve_rows(conn, source_id=source_id))


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
