"""Reading FITS images for previews and cutouts, and drawing catalog overlays.

The stretch and PNG rendering are :func:`contimg.science.stretch.render_png`; this
module only reads the plane, cuts it, and maps sky positions to PNG pixels.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray

from contimg.errors import ContimgError
from contimg.imaging import fits as fits_plane
from contimg.imaging.fits import FitsPlane

Plane: TypeAlias = FitsPlane
"""A 2-D sky image (data and header) as read, cut out and rendered here."""


def read_plane(path: Path) -> Plane:
    """The 2-D plane of a FITS image; errors name the file only (no server path)."""
    return fits_plane.read_plane(path, label=path.name)


def sky_to_pixel(
    plane: Plane, ra_deg: NDArray[np.float64], dec_deg: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """FITS 0-based pixel coordinates (x, y) of sky positions."""
    wcs = plane.wcs()
    x, y = wcs.wcs_world2pix(ra_deg, dec_deg, 0)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def field_radius_deg(plane: Plane) -> tuple[float, float, float]:
    """Centre (RA, Dec) and half-diagonal radius of the image (deg)."""
    wcs = plane.wcs()
    n_y, n_x = plane.data.shape
    ra_c, dec_c = wcs.wcs_pix2world([(n_x - 1) / 2], [(n_y - 1) / 2], 0)
    ra0, dec0 = wcs.wcs_pix2world([0.0], [0.0], 0)
    from contimg.science.crossmatch import angular_separation_deg

    radius = float(angular_separation_deg(float(ra_c[0]), float(dec_c[0]), ra0, dec0)[0])
    return float(ra_c[0]) % 360.0, float(dec_c[0]), radius


def cutout(plane: Plane, *, ra_deg: float, dec_deg: float, size_deg: float) -> Plane:
    """A square cutout of ``size_deg`` on a side centred on a position (partial
    overlap is padded with NaN). :class:`ContimgError` when the position is outside."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy.nddata import Cutout2D, NoOverlapError

    wcs = plane.wcs()
    try:
        cut = Cutout2D(
            plane.data,
            SkyCoord(ra_deg * u.deg, dec_deg * u.deg),
            size_deg * u.deg,
            wcs=wcs,
            mode="partial",
            fill_value=np.nan,
        )
    except (NoOverlapError, ValueError):  # ValueError: no pixel (beyond the projection)
        raise ContimgError(
            f"position RA={ra_deg} Dec={dec_deg} deg lies outside the image"
        ) from None
    header = cut.wcs.to_header()
    return Plane(data=np.asarray(cut.data, dtype=np.float32), header=header)


def fits_bytes(plane: Plane) -> bytes:
    """``plane`` as a FITS file."""
    from astropy.io import fits

    buf = io.BytesIO()
    fits.PrimaryHDU(data=plane.data, header=plane.header).writeto(buf)
    return buf.getvalue()


def overlay_circles(
    png: bytes,
    *,
    plane: Plane,
    max_size_px: int,
    ra_deg: NDArray[np.float64],
    dec_deg: NDArray[np.float64],
    radius_px: float = 6.0,
) -> bytes:
    """Draw a circle on ``png`` (rendered from ``plane`` by render_png with
    ``max_size_px``) at each sky position."""
    from PIL import Image, ImageDraw

    n_y, n_x = plane.data.shape
    factor = max(1, math.ceil(max(n_y, n_x) / max_size_px))
    out_h = math.ceil(n_y / factor)
    img = Image.open(io.BytesIO(png)).convert("RGBA")
    # Blank pixels are transparent in the preview; give the overlay a dark ground.
    ground = Image.new("RGBA", img.size, (0, 0, 0, 255))
    img = Image.alpha_composite(ground, img)
    draw = ImageDraw.Draw(img)
    if len(ra_deg):
        x, y = sky_to_pixel(plane, ra_deg, dec_deg)
        for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
            if not (math.isfinite(xi) and math.isfinite(yi)):
                continue
            px = (xi + 0.5) / factor
            py = out_h - (yi + 0.5) / factor
            r = radius_px
            draw.ellipse((px - r, py - r, px + r, py + r), outline=(0, 220, 255, 255), width=1)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
