"""Catalog sources that fall inside an image (what forced photometry measures)."""

from __future__ import annotations

import math

import numpy as np
from astropy.io.fits import Header
from astropy.wcs import WCS

from contimg.catalog.cone import CatalogSource, cone_search
from contimg.db.engine import Database
from contimg.db.queries.sources import Relation
from contimg.errors import ContimgError
from contimg.imaging.fits import header_wcs
from contimg.science.crossmatch import angular_separation_deg


def _celestial(wcs_or_header: WCS | Header) -> WCS:
    wcs = wcs_or_header if isinstance(wcs_or_header, WCS) else header_wcs(wcs_or_header)
    cel = wcs.celestial
    if cel.naxis != 2:
        raise ContimgError("the image's WCS has no celestial (RA/Dec) axes")
    return cel


def sources_in_image(
    db: Database,
    *,
    wcs: WCS | Header,
    shape: tuple[int, int],
    min_flux_mjy: float | None = None,
    margin_pix: float = 0.0,
    relation: Relation = "sources",
) -> list[tuple[CatalogSource, float, float]]:
    """Catalog sources whose position falls on an image, above a flux limit.

    Parameters
    ----------
    db
        The ``master_sources`` database.
    wcs
        The image's WCS or FITS header (extra spectral/Stokes axes are ignored).
    shape : (n_y, n_x)
        Image size in pixels (numpy order).
    min_flux_mjy : float, optional
        Keep sources with NVSS flux density at least this (mJy).
    margin_pix : float
        Positive: also keep sources up to this many pixels outside the edges;
        negative: drop sources closer than this to an edge.
    relation
        ``sources``, ``good_references`` or ``final_references``.

    Returns
    -------
    list of (CatalogSource, x_pix, y_pix)
        0-based pixel coordinates (FITS pixel minus one); ``sep_deg`` is the
        distance from the image centre. Sorted by that distance.
    """
    n_y, n_x = (int(shape[0]), int(shape[1]))
    if n_x <= 0 or n_y <= 0:
        raise ContimgError(f"image shape {shape} is empty")
    cel = _celestial(wcs)
    cx, cy = (n_x - 1) / 2.0, (n_y - 1) / 2.0
    # The cone through the image's corners and edge midpoints contains the image.
    edge_x = np.array([-0.5, n_x - 0.5, -0.5, n_x - 0.5, cx, cx, -0.5, n_x - 0.5])
    edge_y = np.array([-0.5, -0.5, n_y - 0.5, n_y - 0.5, -0.5, n_y - 0.5, cy, cy])
    pad = abs(margin_pix)
    edge_x = np.where(edge_x < cx, edge_x - pad, np.where(edge_x > cx, edge_x + pad, edge_x))
    edge_y = np.where(edge_y < cy, edge_y - pad, np.where(edge_y > cy, edge_y + pad, edge_y))
    ra0, dec0 = (float(v) for v in cel.pixel_to_world_values(cx, cy))
    era, edec = cel.pixel_to_world_values(edge_x, edge_y)
    if not (math.isfinite(ra0) and math.isfinite(dec0)):
        raise ContimgError("the image centre has no sky position in its WCS")
    seps = angular_separation_deg(ra0, dec0, era, edec)
    seps = seps[np.isfinite(seps)]
    if seps.size == 0:
        raise ContimgError("the image's edges have no sky positions in its WCS")
    radius = min(180.0, float(seps.max()) * 1.01 + 1e-6)
    hits = cone_search(
        db,
        ra_deg=ra0 % 360.0,
        dec_deg=dec0,
        radius_deg=radius,
        min_flux_mjy=min_flux_mjy,
        relation=relation,
    )
    if not hits:
        return []
    x, y = cel.world_to_pixel_values(
        np.array([h.ra_deg for h in hits]), np.array([h.dec_deg for h in hits])
    )
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    lo_x, hi_x = -0.5 - margin_pix, n_x - 0.5 + margin_pix
    lo_y, hi_y = -0.5 - margin_pix, n_y - 0.5 + margin_pix
    with np.errstate(invalid="ignore"):
        inside = (
            np.isfinite(x) & np.isfinite(y) & (x >= lo_x) & (x < hi_x) & (y >= lo_y) & (y < hi_y)
        )
    return [(hits[i], float(x[i]), float(y[i])) for i in np.flatnonzero(inside).tolist()]
