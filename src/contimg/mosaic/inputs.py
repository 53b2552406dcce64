"""Reading the primary-beam-corrected FITS images that go into a mosaic.

WSClean writes 4-axis images (RA, Dec, FREQ, STOKES) whose RA reference value
may be negative; both are normalised here: one 2-D plane, RA wrapped into
[0, 360).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from numpy.typing import NDArray

from contimg.errors import ContimgError


@dataclass(frozen=True)
class ImageGeometry:
    """Celestial WCS and shape ``(n_y, n_x)`` of an image plane, plus its header frequency."""

    wcs: WCS
    shape: tuple[int, int]
    freq_hz: float | None


def _celestial(header: fits.Header, path: Path) -> ImageGeometry:
    import warnings

    naxis = int(header.get("NAXIS", 0))
    if naxis < 2:
        raise ContimgError(f"{path}: not an image (NAXIS={naxis})")
    extra = [int(header.get(f"NAXIS{i}", 1)) for i in range(3, naxis + 1)]
    if any(n != 1 for n in extra):
        raise ContimgError(
            f"{path}: expected one image plane, got axes of lengths {extra} beyond RA/Dec"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        full = WCS(header)
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
    try:
        header = fits.getheader(path, 0)
    except FileNotFoundError:
        raise ContimgError(f"{path}: image file not found") from None
    except OSError as exc:
        raise ContimgError(f"{path}: cannot read FITS header ({exc})") from None
    return _celestial(header, path)


def read_plane(path: Path) -> tuple[NDArray[np.float64], ImageGeometry]:
    """The image plane (float64, shape ``(n_y, n_x)``, NaN = blank) and its geometry."""
    try:
        with fits.open(path, memmap=False) as hdul:
            header = hdul[0].header
            geometry = _celestial(header, path)
            raw = hdul[0].data
            if raw is None:
                raise ContimgError(f"{path}: the primary HDU holds no data")
            data = np.asarray(raw, dtype=np.float64).reshape(geometry.shape)
    except FileNotFoundError:
        raise ContimgError(f"{path}: image file not found") from None
    except (OSError, ValueError) as exc:
        raise ContimgError(f"{path}: cannot read FITS image ({exc})") from None
    return data, geometry
