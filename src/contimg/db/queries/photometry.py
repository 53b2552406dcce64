"""SQL for ``photometry`` rows and differential normalisation (baselines, corrections)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.products import (
    image_normalisation,
    image_qc,
    images,
    ms_index,
    normalisation_baselines,
    photometry,
)
from contimg.db.queries.bulk import dialect_insert, insert_many
from contimg.db.queries.products import ImageRow

PHOTOMETRY_COLUMNS: tuple[str, ...] = (
    "image_path",
    "source_id",
    "ra_deg",
    "dec_deg",
    "nvss_flux_mjy",
    "peak_jyb",
    "peak_err_jyb",
    "snr",
    "measured_at",
    "mjd",
    "sep_from_center_deg",
    "flags",
    "raw_peak_jyb",
    "raw_peak_err_jyb",
    "norm_factor",
    "norm_factor_err",
)
"""Columns written by :func:`replace_image_photometry`, in row-tuple order."""


@dataclass(frozen=True, slots=True)
class ImageWithMjd(ImageRow):
    """An ``images`` row with its Measurement Set's ``mid_mjd`` (None: no MS row)."""

    mid_mjd: float | None


@dataclass(frozen=True, slots=True)
class PhotometryTableRow:
    """A ``photometry`` row (columns in table order)."""

    id: int
    image_path: str
    source_id: str
    ra_deg: float
    dec_deg: float
    nvss_flux_mjy: float | None
    peak_jyb: float
    peak_err_jyb: float | None
    snr: float | None
    measured_at: float
    mjd: float | None
    sep_from_center_deg: float | None
    flags: int | None
    raw_peak_jyb: float | None
    raw_peak_err_jyb: float | None
    norm_factor: float | None
    norm_factor_err: float | None


class Measurement(NamedTuple):
    """What the statistics are rebuilt from, per ``photometry`` row
    (:func:`source_measurements`; a tuple, as a full rebuild reads every row)."""

    id: int
    source_id: str
    ra_deg: float
    dec_deg: float
    nvss_flux_mjy: float | None
    peak_jyb: float
    peak_err_jyb: float | None
    raw_peak_jyb: float | None
    flags: int | None
    mjd: float | None
    measured_at: float


@dataclass(frozen=True, slots=True)
class NormalisationRow:
    """An ``image_normalisation`` row (columns in table order)."""

    image_path: str
    factor: float | None
    factor_err: float | None
    n_refs: int
    n_rejected: int
    computed_at: float
    noise_scale: float | None = None
    noise_pairs: int | None = None
    noise_pair_image: str | None = None


@dataclass(frozen=True, slots=True)
class QcRow:
    """An ``image_qc`` row (columns in table order)."""

    image_path: str
    status: str
    reasons: str | None
    """JSON array of the reasons for a rejection."""
    noise_jy: float | None
    beam_major_arcsec: float | None
    beam_minor_arcsec: float | None
    beam_pa_deg: float | None
    blanked_fraction: float | None
    norm_factor: float | None
    checked_at: float


def replace_image_photometry(
    conn: Connection, *, image_path: str, rows: Sequence[Sequence[Any]]
) -> list[str]:
    """Replace every ``photometry`` row of ``image_path`` by ``rows``.

    ``rows`` are tuples in :data:`PHOTOMETRY_COLUMNS` order. Returns the source ids
    that had rows before (a re-run), whose statistics must be recomputed.
    """
    old = list(
        conn.execute(
            sa.select(photometry.c.source_id).where(photometry.c.image_path == image_path)
        ).scalars()
    )
    if old:
        conn.execute(photometry.delete().where(photometry.c.image_path == image_path))
    insert_many(conn, photometry, columns=PHOTOMETRY_COLUMNS, rows=list(rows))
    return sorted(set(old))


def image_row(conn: Connection, *, path: str) -> ImageWithMjd | None:
    """The ``images`` row of ``path`` with its MS's ``mid_mjd``, or None."""
    found = (
        conn.execute(
            sa.select(images, ms_index.c.mid_mjd)
            .select_from(images.outerjoin(ms_index, images.c.ms_path == ms_index.c.path))
            .where(images.c.path == path)
        )
        .mappings()
        .first()
    )
    return ImageWithMjd(**found) if found is not None else None


def image_measurements(conn: Connection, *, image_path: str) -> list[PhotometryTableRow]:
    """All photometry rows of one image, by source id."""
    rows = conn.execute(
        sa.select(photometry)
        .where(photometry.c.image_path == image_path)
        .order_by(photometry.c.source_id)
    ).mappings()
    return [PhotometryTableRow(**r) for r in rows]


def source_measurements(
    conn: Connection, *, source_ids: Sequence[str] | None = None
) -> list[Measurement]:
    """Photometry rows (``source_id``, ``mjd``, ``id``, fluxes, flags, ...) in
    (source, mjd, id) order; all sources when ``source_ids`` is None."""
    cols = [
        photometry.c.id,
        photometry.c.source_id,
        photometry.c.ra_deg,
        photometry.c.dec_deg,
        photometry.c.nvss_flux_mjy,
        photometry.c.peak_jyb,
        photometry.c.peak_err_jyb,
        photometry.c.raw_peak_jyb,
        photometry.c.flags,
        photometry.c.mjd,
        photometry.c.measured_at,
    ]
    out: list[Measurement] = []
    order = (photometry.c.source_id, photometry.c.mjd, photometry.c.id)
    if source_ids is None:
        return [Measurement(*r) for r in conn.execute(sa.select(*cols).order_by(*order))]
    ids = list(source_ids)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        rows = conn.execute(
            sa.select(*cols).where(photometry.c.source_id.in_(chunk)).order_by(*order)
        )
        out.extend(Measurement(*r) for r in rows)
    return out


def good_raw_history(
    conn: Connection, *, source_ids: Sequence[str], bad_mask: int, limit: int
) -> dict[str, list[tuple[float, float]]]:
    """Up to ``limit`` earliest good raw measurements ``(mjd, raw_peak_jyb)`` per source.

    "Good" means ``flags & bad_mask == 0`` and a raw value present.
    """
    out: dict[str, list[tuple[float, float]]] = {}
    ids = list(source_ids)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        rn = (
            sa.func.row_number()
            .over(
                partition_by=photometry.c.source_id,
                order_by=(photometry.c.mjd, photometry.c.id),
            )
            .label("rn")
        )
        inner = (
            sa.select(photometry.c.source_id, photometry.c.mjd, photometry.c.raw_peak_jyb, rn)
            .where(
                photometry.c.source_id.in_(chunk),
                photometry.c.raw_peak_jyb.is_not(None),
                photometry.c.flags.op("&")(bad_mask) == 0,
            )
            .subquery()
        )
        rows = conn.execute(
            sa.select(inner.c.source_id, inner.c.mjd, inner.c.raw_peak_jyb)
            .where(inner.c.rn <= limit)
            .order_by(inner.c.source_id, inner.c.rn)
        )
        for sid, mjd, raw in rows:
            out.setdefault(sid, []).append((float(mjd) if mjd is not None else 0.0, float(raw)))
    return out


def get_baselines(conn: Connection, *, source_ids: Sequence[str]) -> dict[str, float]:
    """Frozen baselines (Jy/beam) of those sources that have one."""
    out: dict[str, float] = {}
    ids = list(source_ids)
    for i in range(0, len(ids), 500):
        rows = conn.execute(
            sa.select(
                normalisation_baselines.c.source_id, normalisation_baselines.c.baseline_jyb
            ).where(normalisation_baselines.c.source_id.in_(ids[i : i + 500]))
        )
        out.update({sid: float(b) for sid, b in rows})
    return out


def insert_baselines(conn: Connection, *, rows: Sequence[Mapping[str, Any]]) -> None:
    """Add new baselines (never replaces one: baselines are frozen once set; when two
    workers set a source's baseline at once, the first to commit keeps it)."""
    if rows:
        stmt = dialect_insert(conn, normalisation_baselines).on_conflict_do_nothing(
            index_elements=["source_id"]
        )
        conn.execute(stmt, [dict(r) for r in rows])


def record_image_normalisation(
    conn: Connection,
    *,
    image_path: str,
    factor: float | None,
    factor_err: float | None,
    n_refs: int,
    n_rejected: int,
    now: float,
    noise_scale: float | None = None,
    noise_pairs: int | None = None,
    noise_pair_image: str | None = None,
) -> None:
    """Store (or replace) the correction of one image (and its repeat-noise scale)."""
    conn.execute(image_normalisation.delete().where(image_normalisation.c.image_path == image_path))
    conn.execute(
        image_normalisation.insert().values(
            image_path=image_path,
            factor=factor,
            factor_err=factor_err,
            n_refs=n_refs,
            n_rejected=n_rejected,
            computed_at=now,
            noise_scale=noise_scale,
            noise_pairs=noise_pairs,
            noise_pair_image=noise_pair_image,
        )
    )


class EarlierPoint(NamedTuple):
    """A source's latest earlier good raw measurement: flux and error (Jy/beam), the
    image's correction c (None: not normalised) and the image."""

    raw_jyb: float
    raw_err_jyb: float
    norm_factor: float | None
    image_path: str


def earlier_measurements(
    conn: Connection, *, source_ids: Sequence[str], before_mjd: float, after_mjd: float,
    bad_mask: int, exclude: str,
) -> dict[str, EarlierPoint]:  # fmt: skip
    """Each source's latest measurement with ``after_mjd <= mjd < before_mjd``, a raw
    value and no bit of ``bad_mask``, outside image ``exclude``."""
    out: dict[str, tuple[float, EarlierPoint]] = {}
    ids = list(source_ids)
    p = photometry.c
    for i in range(0, len(ids), 500):
        rows = conn.execute(
            sa.select(p.source_id, p.mjd, p.raw_peak_jyb, p.raw_peak_err_jyb, p.norm_factor,
                      p.image_path)
            .where(
                p.source_id.in_(ids[i : i + 500]), p.mjd < before_mjd, p.mjd >= after_mjd,
                p.raw_peak_jyb.is_not(None), p.raw_peak_err_jyb.is_not(None),
                p.flags.op("&")(bad_mask) == 0, p.image_path != exclude,
            )
        )  # fmt: skip
        for sid, mjd, raw, err, c, img in rows:
            key = str(sid)
            if key not in out or float(mjd) > out[key][0]:
                point = EarlierPoint(
                    float(raw), float(err), float(c) if c is not None else None, str(img)
                )
                out[key] = (float(mjd), point)
    return {k: v[1] for k, v in out.items()}


def recent_centres(
    conn: Connection, *, source_ids: Sequence[str], before_mjd: float, after_mjd: float,
    bad_mask: int, limit: int,
) -> dict[str, list[tuple[float, float]]]:  # fmt: skip
    """Image centres (RA, Dec, deg) of each source's latest ``limit`` good measurements
    with ``after_mjd <= mjd < before_mjd``, newest first."""
    p, i = photometry.c, images.c
    ids = list(source_ids)
    out: dict[str, list[tuple[float, float]]] = {}
    for k in range(0, len(ids), 500):
        rank = (
            sa.func.row_number().over(partition_by=p.source_id, order_by=p.mjd.desc()).label("rank")
        )
        inner = (
            sa.select(p.source_id, i.center_ra_deg, i.center_dec_deg, rank)
            .select_from(photometry.join(images, images.c.path == p.image_path))
            .where(
                p.source_id.in_(ids[k : k + 500]), p.mjd < before_mjd, p.mjd >= after_mjd,
                p.flags.op("&")(bad_mask) == 0, p.raw_peak_jyb.is_not(None),
                i.center_ra_deg.is_not(None), i.center_dec_deg.is_not(None),
            )
            .subquery()
        )  # fmt: skip
        rows = conn.execute(
            sa.select(inner.c.source_id, inner.c.center_ra_deg, inner.c.center_dec_deg)
            .where(inner.c.rank <= limit)
            .order_by(inner.c.source_id, inner.c.rank)
        )
        for sid, ra, dec in rows:
            out.setdefault(str(sid), []).append((float(ra) % 360.0, float(dec)))
    return out


class NoiseScaleRow(NamedTuple):
    """An earlier image's own repeat-noise scale, its observation time and centre."""

    image_path: str
    mid_mjd: float
    noise_scale: float
    ra_deg: float
    dec_deg: float


def recent_noise_scales(
    conn: Connection, *, before_mjd: float, after_mjd: float, dec_min_deg: float,
    dec_max_deg: float,
) -> list[NoiseScaleRow]:  # fmt: skip
    """Images observed in ``[after_mjd, before_mjd)`` with centres at Dec in
    ``[dec_min_deg, dec_max_deg]`` that recorded a repeat-noise scale, newest first."""
    n, i, m = image_normalisation.c, images.c, ms_index.c
    rows = conn.execute(
        sa.select(n.image_path, m.mid_mjd, n.noise_scale, i.center_ra_deg, i.center_dec_deg)
        .select_from(
            image_normalisation.join(images, images.c.path == n.image_path).join(
                ms_index, ms_index.c.path == i.ms_path
            )
        )
        .where(
            n.noise_scale.is_not(None), m.mid_mjd < before_mjd, m.mid_mjd >= after_mjd,
            i.center_ra_deg.is_not(None), i.center_dec_deg.between(dec_min_deg, dec_max_deg),
        )
        .order_by(m.mid_mjd.desc())
    )  # fmt: skip
    return [
        NoiseScaleRow(str(p), float(t), float(v), float(ra) % 360.0, float(dec))
        for p, t, v, ra, dec in rows
    ]


def image_centres(conn: Connection, *, paths: Sequence[str]) -> dict[str, tuple[float, float]]:
    """RA, Dec (deg) of the centres of those images that record one."""
    out: dict[str, tuple[float, float]] = {}
    ps = list(paths)
    for i in range(0, len(ps), 500):
        rows = conn.execute(
            sa.select(images.c.path, images.c.center_ra_deg, images.c.center_dec_deg).where(
                images.c.path.in_(ps[i : i + 500])
            )
        )
        for path, ra, dec in rows:
            if ra is not None and dec is not None:
                out[str(path)] = (float(ra) % 360.0, float(dec))
    return out


def get_image_normalisation(conn: Connection, *, image_path: str) -> NormalisationRow | None:
    found = (
        conn.execute(
            sa.select(image_normalisation).where(image_normalisation.c.image_path == image_path)
        )
        .mappings()
        .first()
    )
    return NormalisationRow(**found) if found is not None else None


def insert_photometry(conn: Connection, *, rows: Sequence[Sequence[Any]]) -> int:
    """Insert photometry rows (tuples in :data:`PHOTOMETRY_COLUMNS` order)."""
    return insert_many(conn, photometry, columns=PHOTOMETRY_COLUMNS, rows=list(rows))


def record_image_qc(conn: Connection, *, row: Mapping[str, Any]) -> None:
    """Store (or replace) the quality-control verdict of one image (``image_qc``)."""
    conn.execute(image_qc.delete().where(image_qc.c.image_path == row["image_path"]))
    conn.execute(image_qc.insert().values(**dict(row)))


def get_image_qc(conn: Connection, *, image_path: str) -> QcRow | None:
    found = conn.execute(sa.select(image_qc).where(image_qc.c.image_path == image_path))
    row = found.mappings().first()
    return QcRow(**row) if row is not None else None


def accepted_qc_rows(
    conn: Connection, *, limit: int = 100, exclude: str | None = None,
    field_name: str | None = None,
) -> list[QcRow]:  # fmt: skip
    """The most recently checked accepted images' QC rows (the survey's reference),
    leaving out ``exclude`` (the image being checked again); only images of
    ``field_name`` when given."""
    cond = image_qc.c.status == "ok"
    if exclude is not None:
        cond = cond & (image_qc.c.image_path != exclude)
    source: sa.FromClause = image_qc
    if field_name is not None:
        source = image_qc.join(images, images.c.path == image_qc.c.image_path)
        cond = cond & (images.c.field_name == field_name)
    rows = conn.execute(
        sa.select(*image_qc.c)
        .select_from(source)
        .where(cond)
        .order_by(image_qc.c.checked_at.desc())
        .limit(limit)
    ).mappings()
    return [QcRow(**r) for r in rows]


def rejected_image_paths(conn: Connection, *, paths: Sequence[str]) -> set[str]:
    """Those of ``paths`` that quality control rejected."""
    out: set[str] = set()
    ps = list(paths)
    for i in range(0, len(ps), 500):
        out.update(
            conn.execute(
                sa.select(image_qc.c.image_path).where(
                    image_qc.c.image_path.in_(ps[i : i + 500]), image_qc.c.status != "ok"
                )
            ).scalars()
        )
    return out


def flag_image_rows(conn: Connection, *, image_path: str, bit: int) -> list[str]:
    """Set ``bit`` in every photometry row of an image; returns the sources touched."""
    ids = list(
        conn.execute(
            sa.select(photometry.c.source_id).where(photometry.c.image_path == image_path)
        ).scalars()
    )
    if ids:
        conn.execute(
            photometry.update()
            .where(photometry.c.image_path == image_path)
            .values(flags=sa.func.coalesce(photometry.c.flags, 0).op("|")(bit))
        )
    return sorted(set(ids))
