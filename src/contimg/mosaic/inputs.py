"""Reading the primary-beam-corrected FITS images that go into a mosaic.

WSClean writes 4-axis images (RA, Dec, FREQ, STOKES) whose RA reference value
may be negative; both are normalised here: one 2-D plane (read by
:func:`contimg.imaging.fits.read_plane`), RA wrapped into [0, 360).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.wcs import WCS
from numpy.typing import NDArray

from contimg.errors import ContimgError
from contimg.imaging.fits import header_wcs, read_header, read_plane


@dataclass(frozen=True)
class ImageGeometry:
    """Celestial WCS and shape ``(n_y, n_x)`` of an image plane, plus its header frequency."""

    wcs: WCS
    shape: tuple[int, int]
    freq_hz: float | None


def geometry_of(header: Any, path: Path) -> ImageGeometry:
    """The geometry of an image from its header (RA wrapped into [0, 360))."""
    naxis = int(header.get("NAXIS", 0))
    if naxis < 2:
        raise ContimgError(f"{path}: not an image (NAXIS={naxis})")
    extra = [int(header.get(f"NAXIS{i}", 1)) for i in range(3, naxis + 1)]
    if any(n != 1 for n in extra):
        raise ContimgError(
            f"{path}: expected one image plane, got axes of lengths {extra} beyond RA/Dec"
        )
    full = header_wcs(header)
    if not full.has_celestial:
        raise ContimgError(f"{path}: the header has no celestial (RA/Dec) coordinates")
    wcs = full.celestial
    lon = wcs.wcs.lng
    wcs.wcs.crval[lon] = float(np.mod(wcs.wcs.crval[lon], 360.0))
    wcs.wcs.set()
    freq_hz: float | None = None
    if full.wcs.spec >= 0:
        freq_hz = float(full.wcs.crval[full.wcs.spec])
    shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
    return ImageGeometry(wcs=wcs, shape=shape, freq_hz=freq_hz)


def read_geometry(path: Path) -> ImageGeometry:
    """The WCS and shape of a FITS image (header only)."""
    return geometry_of(read_header(path), path)


def read_input(path: Path) -> tuple[NDArray[np.float64], ImageGeometry]:
    """The image plane (float64, shape ``(n_y, n_x)``, NaN = blank) and its geometry."""
    plane = read_plane(path, dtype=np.float64)
    geometry = geometry_of(plane.header, path)
    if plane.data.shape != geometry.shape:
        raise ContimgError(
            f"{path}: the pixels have shape {plane.data.shape}, the header {geometry.shape}"
        )
    return plane.data, geometry
