"""Robust display stretch of sky images and PNG rendering (Pillow).

Used for mosaic thumbnails and image previews. Radio images are mostly noise
with a few bright sources, so limits come from percentiles of the finite
pixels (robust to blanked regions and to a handful of very bright pixels) and
the default ``asinh`` stretch is linear near the noise and logarithmic for
bright sources.

Orientation: FITS row 0 is the bottom (south) of the image, PNG row 0 the top,
so rows are flipped: north is up, and with the usual negative RA increment
east is to the left, as on the sky.
"""

from __future__ import annotations

import io
import math
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Stretch = Literal["linear", "sqrt", "asinh", "log"]


def block_reduce_nanmean(
    data: NDArray[np.floating], factor: int, *, chunk_px: int = 2_000_000
) -> NDArray[np.float32]:
    """Average ``factor`` x ``factor`` blocks, ignoring NaN (all-NaN blocks stay NaN).

    Parameters
    ----------
    data : numpy.ndarray
        Shape ``(n_y, n_x)``.
    factor : int
        Block size in pixels (>= 1). Partial blocks at the edges are averaged too.
    chunk_px : int
        About this many input pixels are processed at a time (bounds the
        temporary memory).

    Returns
    -------
    numpy.ndarray
        Shape ``(ceil(n_y / factor), ceil(n_x / factor))``, float32.
    """
    if factor < 1:
        raise ValueError(f"block factor must be >= 1, got {factor}")
    if data.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {data.shape}")
    n_y, n_x = data.shape
    out_y, out_x = math.ceil(n_y / factor), math.ceil(n_x / factor)
    if factor == 1:
        return np.asarray(data, dtype=np.float32).copy()
    out = np.empty((out_y, out_x), dtype=np.float32)
    rows_per_chunk = max(1, chunk_px // max(1, n_x * factor)) * factor
    pad_x = out_x * factor - n_x
    for r0 in range(0, n_y, rows_per_chunk):
        block = np.asarray(data[r0 : r0 + rows_per_chunk], dtype=np.float64)
        pad_y = (-block.shape[0]) % factor
        if pad_x or pad_y:
            block = np.pad(block, ((0, pad_y), (0, pad_x)), constant_values=np.nan)
        ny_b = block.shape[0] // factor
        cube = block.reshape(ny_b, factor, out_x, factor)
        finite = np.isfinite(cube)
        total = np.where(finite, cube, 0.0).sum(axis=(1, 3))
        count = finite.sum(axis=(1, 3))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[r0 // factor : r0 // factor + ny_b] = np.where(count > 0, total / count, np.nan)
    return out


def robust_limits(
    data: NDArray[np.floating], *, lower_percentile: float = 0.5, upper_percentile: float = 99.8
) -> tuple[float, float]:
    """Display limits: percentiles of the finite pixels (a flat image gets a unit span)."""
    if not 0 <= lower_percentile < upper_percentile <= 100:
        raise ValueError(
            f"percentiles must satisfy 0 <= lower < upper <= 100, got "
            f"{lower_percentile}, {upper_percentile}"
        )
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [lower_percentile, upper_percentile])
    lo, hi = float(lo), float(hi)
    if not hi > lo:
        hi = lo + 1.0
    return lo, hi


def stretch_to_uint8(
    data: NDArray[np.floating],
    *,
    vmin: float,
    vmax: float,
    stretch: Stretch = "asinh",
    asinh_a: float = 0.1,
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """Map ``data`` to 0..255 between ``vmin`` and ``vmax`` with ``stretch``.

    Returns the grey levels and the mask of finite pixels (same shape as ``data``).
    ``asinh_a`` is the fraction of the range over which ``asinh`` stays linear.
    """
    finite = np.isfinite(data)
    x = np.clip((np.where(finite, data, vmin) - vmin) / (vmax - vmin), 0.0, 1.0)
    if stretch == "linear":
        y = x
    elif stretch == "sqrt":
        y = np.sqrt(x)
    elif stretch == "asinh":
        y = np.arcsinh(x / asinh_a) / math.asinh(1.0 / asinh_a)
    elif stretch == "log":
        y = np.log1p(1000.0 * x) / math.log1p(1000.0)
    else:
        raise ValueError(f"unknown stretch {stretch!r}; use linear, sqrt, asinh or log")
    grey = np.round(np.asarray(y) * 255.0).astype(np.uint8)
    return grey, finite


def render_png(
    data: NDArray[np.floating],
    *,
    max_size_px: int = 512,
    stretch: Stretch = "asinh",
    lower_percentile: float = 0.5,
    upper_percentile: float = 99.8,
    vmin: float | None = None,
    vmax: float | None = None,
) -> bytes:
    """A PNG preview of a 2-D image, at most ``max_size_px`` on each side.

    Parameters
    ----------
    data : numpy.ndarray
        Image, shape ``(n_y, n_x)`` in FITS order (row 0 = south). Leading axes
        of length 1 (e.g. WSClean's FREQ and STOKES) are dropped. NaN = blank.
    max_size_px : int
        Largest side of the PNG. Larger images are block-averaged (NaN-aware) by
        the smallest integer factor that fits.
    stretch : {"asinh", "linear", "sqrt", "log"}
        Transfer function between the display limits.
    lower_percentile, upper_percentile : float
        Robust display limits, percentiles of the finite (block-averaged) pixels.
    vmin, vmax : float, optional
        Fixed display limits (override the percentiles).

    Returns
    -------
    bytes
        A PNG: 8-bit grey with an alpha channel that is transparent where blank.
    """
    from PIL import Image

    arr = np.asarray(data)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"expected a non-empty 2-D image, got shape {np.shape(data)}")
    if max_size_px < 1:
        raise ValueError(f"max_size_px must be >= 1, got {max_size_px}")
    factor = max(1, math.ceil(max(arr.shape) / max_size_px))
    small = block_reduce_nanmean(arr, factor)
    lo, hi = robust_limits(
        small, lower_percentile=lower_percentile, upper_percentile=upper_percentile
    )
    lo = lo if vmin is None else vmin
    hi = hi if vmax is None else vmax
    if not hi > lo:
        raise ValueError(f"display limits must satisfy vmin < vmax, got {lo}, {hi}")
    grey, finite = stretch_to_uint8(small, vmin=lo, vmax=hi, stretch=stretch)
    alpha = np.where(finite, 255, 0).astype(np.uint8)
    rgba = np.stack([grey, alpha], axis=-1)[::-1]  # north up
    image = Image.fromarray(np.ascontiguousarray(rgba))  # (h, w, 2) uint8 -> "LA"
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
