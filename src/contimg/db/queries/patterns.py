"""The specification's three query patterns, as typed functions."""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.engine import Connection

from contimg.db.products import ese_candidates, images, mosaics, photometry, variability_stats
from contimg.models import EseCandidateWithSource, LightCurvePoint, RecentMosaic

_LIGHT_CURVE = TypeAdapter(list[LightCurvePoint])


def ese_candidates_with_sources(
    conn: Connection, *, status: str | None = "active", limit: int = 50, offset: int = 0
) -> list[EseCandidateWithSource]:
    """ESE candidates joined with their variability statistics, most significant first.

    ``status`` filters on the table's status ('active', 'investigated', 'dismissed');
    None returns every status.
    """
    e, v = ese_candidates, variability_stats
    query = (
        sa.select(
            e.c.id,
            e.c.source_id,
            v.c.ra_deg,
            v.c.dec_deg,
            v.c.mean_flux_mjy,
            v.c.nvss_flux_mjy,
            v.c.chi2_nu,
            v.c.sigma_deviation,
            v.c.n_obs,
            e.c.flagged_at,
            e.c.significance,
            e.c.flag_type,
            e.c.status,
        )
        .join(v, e.c.source_id == v.c.source_id)
        .order_by(e.c.significance.desc(), e.c.id)
        .limit(limit)
        .offset(offset)
    )
    if status is not None:
        query = query.where(e.c.status == status)
    return [EseCandidateWithSource.model_validate(r._mapping) for r in conn.execute(query)]


def flux_timeseries(conn: Connection, *, source_id: str) -> list[LightCurvePoint]:
    """A source's light curve in mJy, oldest first (with the image's field and noise)."""
    p, i = photometry, images
    query = (
        sa.select(
            p.c.mjd,
            (p.c.peak_jyb * 1000).label("flux_mjy"),
            (p.c.peak_err_jyb * 1000).label("error_mjy"),
            p.c.snr,
            i.c.field_name,
            (i.c.noise_jy * 1000).label("image_noise_mjy"),
        )
        .join(i, p.c.image_path == i.c.path)
        .where(p.c.source_id == source_id)
        .order_by(p.c.mjd.asc())
    )
    # The dashboard's hottest read: validate the whole list in one pass.
    result = conn.execute(query)
    keys = list(result.keys())
    rows = result.all()  # one fetchall, not a fetchone per row
    return _LIGHT_CURVE.validate_python([dict(zip(keys, row, strict=True)) for row in rows])


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
