"""Cone searches over the master catalog.

SQLite: every source's nested HEALPix pixel at order :data:`HEALPIX_ORDER` is
stored in ``sources_healpix`` (primary key (hpx, source_id), WITHOUT ROWID). In
the nested scheme a pixel of a coarser order ``k`` covers one contiguous range
of order-16 pixels, ``[p * 4**(16-k), (p + 1) * 4**(16-k) - 1]``. A cone is
covered with the pixels of an order matched to its radius (astropy-healpix
lists every pixel that overlaps it, with no seam at RA 0/360 and correct at the
poles), consecutive pixels are merged into ranges, the ranges are read with
one index range-scan each, and the candidates are trimmed to the exact
great-circle radius. Rows written to ``sources`` since the copy was last brought
up to date (tracked by triggers, :mod:`contimg.catalog.index`) are read from
``sources`` itself, so the answer never depends on who wrote the rows; a copy
whose triggers are missing is refused. Why HEALPix rather than SQLite's R*Tree: see
docs/catalog.md (in short: an ordinary table and index that both backends
share, no RA-wrap or pole special cases, and a sub-millisecond range scan).

PostgreSQL: ``q3c_radial_query`` on the q3c index (exact).
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from astropy import units as u
from astropy_healpix import HEALPix
from sqlalchemy.engine import Connection

from contimg.catalog import index
from contimg.db.engine import Database
from contimg.db.queries import cone_index as ci
from contimg.db.queries import sources as q
from contimg.errors import ContimgError
from contimg.science.crossmatch import angular_separation_deg, chord_for_angle, unit_vectors

log = logging.getLogger(__name__)

HEALPIX_ORDER = 16
"""Order of the stored pixels (nside 65536, pixels of ~3.2 arcsec)."""
_MARGIN_DEG = 2.0 * math.sqrt(4.0 * math.pi / (12 * 4**HEALPIX_ORDER)) * 180.0 / math.pi
"""Two stored-pixel sizes: slack added to a cone before covering it with pixels."""


class CatalogSource(NamedTuple):
    """One catalog row (``sources`` columns, units as stored) and its distance to a
    search centre. A named tuple: cheap to make by the thousand."""

    source_id: str
    ra_deg: float
    dec_deg: float
    s_nvss: float | None
    """NVSS 1.4 GHz flux density (Jy)."""
    snr_nvss: float | None
    s_vlass: float | None
    """VLASS 3 GHz flux density (Jy)."""
    alpha: float | None
    resolved_flag: int | None
    confusion_flag: int | None
    first_size_maj_arcsec: float | None
    first_size_min_arcsec: float | None
    first_size_pa_deg: float | None
    sep_deg: float
    """Angular distance from the search centre (deg)."""

    @property
    def flux_mjy(self) -> float | None:
        """NVSS flux density (mJy)."""
        return None if self.s_nvss is None else self.s_nvss * 1e3

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


@lru_cache(maxsize=32)
def _healpix(order: int) -> HEALPix:
    return HEALPix(nside=2**order, order="nested")


def healpix_index(ra_deg: npt.ArrayLike, dec_deg: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Nested HEALPix pixel at :data:`HEALPIX_ORDER` of positions (deg), shape (n,)."""
    ra = np.asarray(ra_deg, dtype=np.float64)
    dec = np.asarray(dec_deg, dtype=np.float64)
    pix = _healpix(HEALPIX_ORDER).lonlat_to_healpix(ra * u.deg, dec * u.deg)
    return np.asarray(pix, dtype=np.int64)


def _order_for_radius(radius_deg: float) -> int:
    """The order whose pixels are about half the cone radius (bounded to 0..16).

    Finer pixels mean fewer candidates outside the cone but more ranges to scan;
    half was the fastest for 1.75 deg cones over 1.8 million sources.
    """
    # Pixel size at order k is about 58.6 deg / 2**k.
    if radius_deg <= 0:
        return HEALPIX_ORDER
    k = math.floor(math.log2(58.6 / (radius_deg / 2.0)))
    return max(0, min(HEALPIX_ORDER, k))


def cone_ranges(ra_deg: float, dec_deg: float, radius_deg: float) -> list[tuple[int, int]]:
    """Inclusive ranges of order-16 nested pixels that cover a cone.

    Parameters
    ----------
    ra_deg, dec_deg : float
        Cone centre (deg).
    radius_deg : float
        Cone radius (deg).
    """
    k = _order_for_radius(radius_deg)
    # A small margin: pixel membership is decided at the stored position's pixel,
    # and astropy-healpix's overlap test is approximate at the pixel edges.
    margin_deg = _MARGIN_DEG
    pix = _healpix(k).cone_search_lonlat(
        ra_deg * u.deg, dec_deg * u.deg, min(radius_deg + margin_deg, 180.0) * u.deg
    )
    pix = np.unique(np.asarray(pix, dtype=np.int64))
    if pix.size == 0:
        return []
    shift = 2 * (HEALPIX_ORDER - k)
    breaks = np.flatnonzero(np.diff(pix) != 1)
    starts = np.concatenate([[pix[0]], pix[breaks + 1]])
    ends = np.concatenate([pix[breaks], [pix[-1]]])
    return [
        (int(a) << shift, ((int(b) + 1) << shift) - 1) for a, b in zip(starts, ends, strict=True)
    ]


def _check(ra_deg: float, dec_deg: float, radius_deg: float) -> None:
    if not (math.isfinite(ra_deg) and math.isfinite(dec_deg) and -90.0 <= dec_deg <= 90.0):
        raise ContimgError(f"cone centre RA={ra_deg} Dec={dec_deg} deg is not a sky position")
    if not (math.isfinite(radius_deg) and 0.0 < radius_deg <= 180.0):
        raise ContimgError(f"cone radius {radius_deg} deg must lie in (0, 180]")


def _trim(
    rows: list[tuple[Any, ...]], ra_deg: float, dec_deg: float, radius_deg: float
) -> list[CatalogSource]:
    """The candidate rows inside the cone, as :class:`CatalogSource`, nearest first."""
    if not rows:
        return []
    columns = list(zip(*rows, strict=True))
    ra = np.array(columns[1], dtype=np.float64)
    dec = np.array(columns[2], dtype=np.float64)
    sep = angular_separation_deg(ra_deg, dec_deg, ra, dec)
    inside = np.flatnonzero(sep <= radius_deg)
    inside = inside[np.argsort(sep[inside], kind="stable")]
    # tuple.__new__ directly: rows come from the fixed column list, so the length
    # check of NamedTuple._make would only cost time (~1 us a row).
    new, cls = tuple.__new__, CatalogSource
    return [
        new(cls, (*rows[i], d)) for i, d in zip(inside.tolist(), sep[inside].tolist(), strict=True)
    ]


def _pending_or_refuse(db: Database, conn: Connection) -> int:
    """Check the SQLite cone index inside a search's read; the number of pending rows
    (counting stops past :data:`contimg.catalog.index.SYNC_THRESHOLD`).

    A copy whose tracking triggers are missing may be stale and is refused, never
    read silently.
    """
    missing = ci.missing_triggers(conn)
    if missing:
        raise ContimgError(
            f"{db.location}: the cone index (sources_healpix) is not kept up to date "
            f"(triggers {', '.join(missing)} are missing), so it may be stale and is not "
            "used; run 'contimg catalog reindex' to rebuild it"
        )
    return ci.pending_count(conn, limit=index.SYNC_THRESHOLD + 1)


def _sync(db: Database) -> None:
    """Fold many pending rows into the copy (then searches are fast again)."""
    try:
        with db.write() as conn:
            n = index.sync_pending(conn)
        log.info("%s: folded %d written sources rows into the cone index", db.location, n)
    except sa.exc.OperationalError as exc:  # e.g. a read-only file: answer from sources
        log.warning("%s: cannot update the cone index (%s)", db.location, exc.orig)


def cone_search(
    db: Database,
    *,
    ra_deg: float,
    dec_deg: float,
    radius_deg: float,
    min_flux_mjy: float | None = None,
    relation: q.Relation = "sources",
) -> list[CatalogSource]:
    """Catalog rows within ``radius_deg`` of a position, nearest first.

    Parameters
    ----------
    db
        The ``master_sources`` database (SQLite or PostgreSQL).
    ra_deg, dec_deg : float
        Centre (deg, J2000).
    radius_deg : float
        Radius (deg), great-circle.
    min_flux_mjy : float, optional
        Keep only sources with NVSS flux density at least this (mJy).
    relation
        ``sources`` (everything), or the spec's views ``good_references`` /
        ``final_references``.
    """
    _check(ra_deg, dec_deg, radius_deg)
    ra_deg = ra_deg % 360.0
    min_flux_jy = None if min_flux_mjy is None else min_flux_mjy / 1e3
    if not db.is_sqlite:
        with db.read() as conn:
            rows = q.cone_q3c(
                conn,
                ra_deg=ra_deg,
                dec_deg=dec_deg,
                radius_deg=radius_deg,
                min_flux_jy=min_flux_jy,
                relation=relation,
            )
        return _trim(rows, ra_deg, dec_deg, radius_deg)
    centre = unit_vectors(ra_deg, dec_deg)
    for attempt in range(2):
        with db.read() as conn:
            n_pending = _pending_or_refuse(db, conn)
            if n_pending <= index.SYNC_THRESHOLD or attempt == 1:
                rows = q.cone_healpix(
                    conn,
                    ranges=cone_ranges(ra_deg, dec_deg, radius_deg),
                    centre_xyz=(float(centre[0]), float(centre[1]), float(centre[2])),
                    # Generous by a hair: the exact test on the separation follows.
                    max_chord=float(chord_for_angle(math.radians(radius_deg))) * (1 + 1e-9) + 1e-12,
                    min_flux_jy=min_flux_jy,
                    relation=relation,
                    has_pending=n_pending > 0,
                )
                break
        _sync(db)
    return _trim(rows, ra_deg, dec_deg, radius_deg)


def final_references_within(
    db: Database, *, ra_deg: float, dec_deg: float, radius_deg: float
) -> list[CatalogSource]:
    """Rows of the spec's ``final_references`` view within a radius, nearest first
    (the reference sources of differential normalisation)."""
    return cone_search(
        db, ra_deg=ra_deg, dec_deg=dec_deg, radius_deg=radius_deg, relation="final_references"
    )
