"""Reading FITS image planes: the one place where the pipeline opens a FITS image
for its pixels (photometry, quality control, mosaics, the API's previews).

Policy, the same for every reader of an image:

* the image is the first HDU that holds data (the primary HDU for WSClean images
  and our mosaics); its header is copied;
* leading axes of length 1 (WSClean's FREQ and STOKES) are dropped; anything but
  one 2-D plane ``(n_y, n_x)`` left is an error;
* a missing, unreadable or empty file is a :class:`ContimgError` that names the file
  (``label``: the full path by default; the API passes the bare file name so that no
  server path reaches a client);
* WCS warnings: one policy, in :func:`contimg.science.image.header_wcs` (the
  in-memory image types live in :mod:`contimg.science.image`, re-exported here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from numpy.typing import DTypeLike

from contimg.errors import ContimgError
from contimg.science.image import (
    FitsImage,
    FitsPlane,
    celestial_wcs,
    fits_image,
    header_wcs,
)

__all__ = [
    "FitsImage",
    "FitsPlane",
    "celestial_wcs",
    "fits_image",
    "header_wcs",
    "read_fits_image",
    "read_header",
    "read_plane",
]


def _check_file(path: Path, label: str) -> None:
    if not path.is_file():
        raise ContimgError(f"image {label} does not exist")


def read_header(path: Path | str, *, label: str | None = None) -> Any:
    """The header of the image HDU (no pixels read)."""
    p = Path(path)
    name = str(p) if label is None else label
    _check_file(p, name)
    try:
        with fits.open(p, memmap=False) as hdul:
            hdu = next((h for h in hdul if h.header.get("NAXIS", 0) > 0), hdul[0])
            return hdu.header.copy()
    except OSError as exc:
        raise ContimgError(f"image {name} is not a readable FITS file: {exc}") from exc


def read_plane(
    path: Path | str, *, dtype: DTypeLike = np.float32, label: str | None = None
) -> FitsPlane:
    """The 2-D image plane of a (possibly 4-D, degenerate-axis) FITS image."""
    p = Path(path)
    name = str(p) if label is None else label
    _check_file(p, name)
    try:
        with fits.open(p, memmap=False) as hdul:
            hdu = next((h for h in hdul if getattr(h, "data", None) is not None), None)
            if hdu is None:
                raise ContimgError(f"image {name} holds no image data")
            raw = hdu.data
            header = hdu.header.copy()
            data = np.asarray(raw, dtype=dtype)
    except OSError as exc:
        raise ContimgError(f"image {name} is not a readable FITS file: {exc}") from exc
    while data.ndim > 2 and data.shape[0] == 1:
        data = data[0]
    if data.ndim != 2 or data.size == 0:
        raise ContimgError(f"image {name} has shape {raw.shape}; expected one 2-D plane")
    return FitsPlane(data=data, header=header, path=p)


def read_fits_image(path: Path | str) -> FitsImage:
    """Read a FITS image for photometry: its plane, celestial WCS and beam."""
    return fits_image(read_plane(path))
