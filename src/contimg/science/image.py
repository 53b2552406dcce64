"""2-D sky images in memory: a FITS plane (pixels + header), the image photometry
measures (with its celestial WCS and restoring beam), and the one policy for building a
WCS from a header. Nothing here opens a file: :mod:`contimg.imaging.fits` reads them.

WCS warnings: astropy's header "fixes" (:class:`FITSFixedWarning`, e.g. MJD-OBS
derived from DATE-OBS) do not change positions and are silenced, here only
(:func:`header_wcs`); every other warning is left alone.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.wcs import WCS, FITSFixedWarning
from numpy.typing import NDArray

from contimg.errors import ContimgError
from contimg.science.photometry import Beam, beam_from_header


def header_wcs(header: Any) -> WCS:
    """The full WCS of a FITS header (astropy's header fixes silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(header)


def celestial_wcs(header: Any) -> WCS:
    """The celestial (RA/Dec) part of a FITS header's WCS."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(header).celestial


@dataclass
class FitsPlane:
    """A 2-D sky image: ``data`` shape ``(n_y, n_x)`` in FITS order, and its header."""

    data: NDArray[Any]
    header: Any  # astropy.io.fits.Header
    path: Path | None = None

    def wcs(self) -> WCS:
        """The celestial WCS of the header."""
        return celestial_wcs(self.header)


@dataclass
class FitsImage:
    """A 2-D FITS image with its celestial WCS and restoring beam (for photometry)."""

    path: Path | None
    data: NDArray[np.float32]
    """Shape ``(ny, nx)``, Jy/beam; NaN = blanked."""
    wcs: WCS
    beam: Beam
    header: Any


def fits_image(plane: FitsPlane) -> FitsImage:
    """``plane`` with its celestial WCS and restoring beam, checked for photometry."""
    name = str(plane.path) if plane.path is not None else "image"
    wcs = plane.wcs()
    if wcs.naxis != 2:
        raise ContimgError(f"image {name} has no celestial WCS")
    return FitsImage(
        path=plane.path,
        data=np.asarray(plane.data, dtype=np.float32),
        wcs=wcs,
        beam=beam_from_header(plane.header, origin=name),
        header=plane.header,
    )
