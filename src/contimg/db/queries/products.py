"""SQL for the ``ms_index`` and ``images`` rows written by the convert/calibrate/image stages.

Every write replaces what a previous run of the same group wrote, so re-running a
group never duplicates rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.products import images, ms_index, photometry
from contimg.errors import ContimgError

MS_STAGES = ("converted", "calibrated", "imaged", "photometry_complete")


@dataclass(frozen=True, slots=True)
class MsObservation:
    """The times and meridian pointing of a converted Measurement Set (MJD, degrees)."""

    start_mjd: float
    end_mjd: float
    mid_mjd: float
    pointing_ra_deg: float
    pointing_dec_deg: float


@dataclass(frozen=True, slots=True)
class MsRow:
    """An ``ms_index`` row (columns in table order)."""

    path: str
    start_mjd: float | None
    end_mjd: float | None
    mid_mjd: float | None
    processed_at: float | None
    status: str | None
    stage: str | None
    stage_updated_at: float | None
    cal_applied: int | None
    imagename: str | None
    field_name: str | None
    pointing_ra_deg: float | None
    pointing_dec_deg: float | None

    def observation(self) -> MsObservation:
        """The times and pointing conversion records (NULL columns: :class:`ContimgError`)."""
        values = {
            "start_mjd": self.start_mjd,
            "end_mjd": self.end_mjd,
            "mid_mjd": self.mid_mjd,
            "pointing_ra_deg": self.pointing_ra_deg,
            "pointing_dec_deg": self.pointing_dec_deg,
        }
        missing = [k for k, v in values.items() if v is None]
        if missing:
            raise ContimgError(f"ms_index row of {self.path} has no {', '.join(missing)}")
        return MsObservation(**{k: float(v) for k, v in values.items() if v is not None})


@dataclass(frozen=True, slots=True)
class ImageRow:
    """An ``images`` row (columns in table order)."""

    id: int
    path: str
    ms_path: str
    created_at: float
    type: str
    format: str | None
    beam_major_arcsec: float | None
    beam_minor_arcsec: float | None
    beam_pa_deg: float | None
    noise_jy: float | None
    dynamic_range: float | None
    pbcor: int | None
    field_name: str | None
    center_ra_deg: float | None
    center_dec_deg: float | None
    imsize_x: int | None
    imsize_y: int | None
    cellsize_arcsec: float | None
    freq_ghz: float | None
    bandwidth_mhz: float | None
    integration_sec: float | None


def upsert_ms(conn: Connection, *, row: Mapping[str, Any]) -> None:
    """Insert the ``ms_index`` row of ``row["path"]`` or replace its given columns."""
    path = row["path"]
    exists = conn.execute(sa.select(ms_index.c.path).where(ms_index.c.path == path)).first()
    if exists is None:
        conn.execute(ms_index.insert().values(**row))
    else:
        values = {k: v for k, v in row.items() if k != "path"}
        conn.execute(ms_index.update().where(ms_index.c.path == path).values(**values))


def get_ms(conn: Connection, *, path: str) -> MsRow | None:
    """The ``ms_index`` row of ``path``, or None."""
    found = conn.execute(sa.select(ms_index).where(ms_index.c.path == path)).mappings().first()
    return MsRow(**found) if found is not None else None


def set_ms_stage(
    conn: Connection,
    *,
    path: str,
    stage: str,
    status: str,
    now: float,
    cal_applied: int | None = None,
    imagename: str | None = None,
) -> None:
    """Move the MS ``path`` to ``stage`` (one of :data:`MS_STAGES`) with ``status``."""
    if stage not in MS_STAGES:
        raise ValueError(f"unknown MS stage {stage!r}; expected one of {MS_STAGES}")
    values: dict[str, Any] = {
        "stage": stage,
        "status": status,
        "stage_updated_at": now,
        "processed_at": now,
    }
    if cal_applied is not None:
        values["cal_applied"] = cal_applied
    if imagename is not None:
        values["imagename"] = imagename
    conn.execute(ms_index.update().where(ms_index.c.path == path).values(**values))


def replace_images(conn: Connection, *, ms_path: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Replace every non-mosaic ``images`` row of ``ms_path`` by ``rows``.

    Rows whose path already exists (a re-run writing the same file names) are
    updated in place, so photometry rows referring to them stay valid; rows of
    the MS that are not in ``rows`` are deleted (with their photometry).
    """
    new_paths = {str(r["path"]) for r in rows}
    old = conn.execute(
        sa.select(images.c.path).where(images.c.ms_path == ms_path, images.c.type != "mosaic")
    ).scalars()
    stale = [p for p in old if p not in new_paths]
    if stale:
        conn.execute(photometry.delete().where(photometry.c.image_path.in_(stale)))
        conn.execute(images.delete().where(images.c.path.in_(stale)))
    for row in rows:
        path = str(row["path"])
        exists = conn.execute(sa.select(images.c.id).where(images.c.path == path)).first()
        if exists is None:
            conn.execute(images.insert().values(**row))
        else:
            values = {k: v for k, v in row.items() if k != "path"}
            conn.execute(images.update().where(images.c.path == path).values(**values))


def images_for_ms(conn: Connection, *, ms_path: str) -> list[ImageRow]:
    """All ``images`` rows made from ``ms_path``, ordered by type."""
    result = conn.execute(
        sa.select(images).where(images.c.ms_path == ms_path).order_by(images.c.type)
    ).mappings()
    return [ImageRow(**r) for r in result]


def product_counts(conn: Connection) -> dict[str, int]:
    """Rows of ``images``, ``ese_candidates`` and ``mosaics``."""
    from contimg.db.products import ese_candidates, mosaics

    return {
        t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
        for t in (images, ese_candidates, mosaics)
    }


def flag_types_of(conn: Connection, *, source_id: str | None) -> list[str]:
    """The ESE flag types a source has (sorted; none for ``None``)."""
    from contimg.db.products import ese_candidates

    if source_id is None:
        return []
    rows = conn.execute(
        sa.select(ese_candidates.c.flag_type).where(ese_candidates.c.source_id == source_id)
    ).scalars()
    return sorted(str(f) for f in rows)
