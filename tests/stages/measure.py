"""Flux measurement for tests: a Gaussian fitted at a known position.

The restored peak pixel of a point source under-reads when the CLEAN components
straddle pixels; a fitted Gaussian's integrated flux recovers the source's flux
density.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from scipy.optimize import least_squares

from contimg.imaging.fits import read_plane


def load_image(path: Path) -> tuple[np.ndarray, WCS, fits.Header]:
    plane = read_plane(path, dtype=np.float64)
    return plane.data, plane.wcs(), plane.header


def fit_point_source(
    data: np.ndarray, wcs: WCS, header: fits.Header, *, ra_deg: float, dec_deg: float, half: int = 8
) -> float:
    """Integrated flux (Jy for a Jy/beam image) of a Gaussian fitted near (ra, dec).

    The Gaussian has the restoring beam's orientation; amplitude, sub-pixel position
    and the two widths (0.7-1.6 x the beam's) are free, so CLEAN components spread
    over neighbouring pixels are summed. NaN if off-image or blanked.
    """
    x0, y0 = (float(v) for v in wcs.world_to_pixel_values(ra_deg, dec_deg))
    xi, yi = round(x0), round(y0)
    ny, nx = data.shape
    if not (half <= xi < nx - half and half <= yi < ny - half):
        return float("nan")
    box = data[yi - half : yi + half + 1, xi - half : xi + half + 1]
    if not np.all(np.isfinite(box)):
        return float("nan")
    cell_deg = abs(float(header["CDELT2"]))
    fwhm_to_sigma = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    s_maj = float(header["BMAJ"]) / cell_deg * fwhm_to_sigma
    s_min = float(header["BMIN"]) / cell_deg * fwhm_to_sigma
    pa = math.radians(float(header["BPA"]))
    # Major-axis direction in pixels: north is +y, east is -x.
    ux, uy = -math.sin(pa), math.cos(pa)
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(float)

    def model(p: np.ndarray) -> np.ndarray:
        dx, dy = xx - p[1], yy - p[2]
        a = dx * ux + dy * uy
        b = -dx * uy + dy * ux
        return np.asarray(
            p[0] * np.exp(-0.5 * ((a / (s_maj * p[3])) ** 2 + (b / (s_min * p[4])) ** 2))
        )

    start = np.array([box[half, half], x0 - xi, y0 - yi, 1.0, 1.0])
    lower = [-np.inf, -half, -half, 0.7, 0.7]
    upper = [np.inf, half, half, 1.6, 1.6]
    fit = least_squares(lambda p: (model(p) - box).ravel(), start, bounds=(lower, upper))
    # Integrated flux in beams: peak x (fitted area / restoring-beam area).
    return float(fit.x[0] * fit.x[3] * fit.x[4])
