"""Background-rms map of a radio image, robust to sources.

The image is cut into square boxes; in each box the rms is the interquartile range / 1.349
after one pass of rejecting pixels more than 4 sigma from the median (sources);
pixels near catalogued positions can be masked first.
The box grid is smoothed with a 3 x 3 median filter (a box full of a bright
source's sidelobes does not make a hole) and interpolated bilinearly between box
centres. Computed once per image; queried at any (sub-pixel) position.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

CLIP_SIGMA = 4.0
MAD_TO_SIGMA = 1.482602218505602
"""Median absolute deviation to a Gaussian's sigma: 1 / Phi^-1(3/4)."""


@dataclass(frozen=True)
class RmsMap:
    """Box-grid rms of an image.

    Attributes
    ----------
    grid : numpy.ndarray
        Smoothed rms per box (Jy/beam), shape ``(n_box_y, n_box_x)``; NaN where a
        box has too few valid pixels and no valid neighbour.
    box_px : int
        Box side, pixels.
    shape : tuple of int
        Image shape ``(ny, nx)``.
    """

    grid: NDArray[np.float64]
    box_px: int
    shape: tuple[int, int]

    def at(self, x_pix: ArrayLike, y_pix: ArrayLike) -> NDArray[np.float64]:
        """rms (Jy/beam) at 0-based pixel positions ``x_pix``, ``y_pix`` (same shape)."""
        x = np.asarray(x_pix, dtype=np.float64)
        y = np.asarray(y_pix, dtype=np.float64)
        # Box i covers pixels [i*box, (i+1)*box); its centre is at i*box + (box-1)/2.
        gx = (x - (self.box_px - 1) / 2.0) / self.box_px
        gy = (y - (self.box_px - 1) / 2.0) / self.box_px
        out = ndimage.map_coordinates(
            self.grid, [gy.ravel(), gx.ravel()], order=1, mode="nearest", cval=np.nan
        )
        return np.asarray(out.reshape(x.shape), dtype=np.float64)

    def full(self) -> NDArray[np.float64]:
        """The rms map at every pixel, shape :attr:`shape` (Jy/beam)."""
        ny, nx = self.shape
        yy, xx = np.mgrid[0:ny, 0:nx]
        return self.at(xx, yy)


def default_box_px(beam_major_px: float, shape: tuple[int, int]) -> int:
    """Box side: 16 beam major axes, at least 32 px, at most a quarter of the image."""
    box = max(32, int(np.ceil(16.0 * beam_major_px)))
    return int(max(8, min(box, max(shape) // 4 if max(shape) >= 32 else max(shape))))


IQR_TO_SIGMA = 1.0 / 1.3489795003921634


def _row_quantile(
    sorted_rows: NDArray[np.float32], lo: NDArray[np.int64], n: NDArray[np.int64], q: float
) -> NDArray[np.float64]:
    """Quantile ``q`` of ``sorted_rows[i, lo[i]:lo[i] + n[i]]`` (linear interpolation)."""
    rows = np.arange(sorted_rows.shape[0])
    pos = lo + q * np.maximum(n - 1, 0)
    a = np.clip(np.floor(pos).astype(np.int64), 0, sorted_rows.shape[1] - 1)
    b = np.clip(a + 1, 0, sorted_rows.shape[1] - 1)
    b = np.minimum(b, np.maximum(lo + n - 1, 0))
    frac = pos - np.floor(pos)
    va = sorted_rows[rows, a].astype(np.float64)
    vb = sorted_rows[rows, b].astype(np.float64)
    return np.where(n > 0, va + frac * (vb - va), np.nan)


def _box_stats(blocks: NDArray[np.float32]) -> NDArray[np.float64]:
    """Robust sigma of each row of ``blocks`` (n_boxes, n_pix), NaNs ignored.

    One sort per row (NaNs sort last): sigma = IQR / 1.349 of the valid values;
    then the values within 4 sigma of the median (a contiguous run of the sorted
    row) give the final median and IQR sigma.
    """
    srt = np.sort(blocks, axis=1)
    n_valid = np.sum(np.isfinite(srt), axis=1).astype(np.int64)
    zero = np.zeros_like(n_valid)
    med = _row_quantile(srt, zero, n_valid, 0.5)
    sigma = IQR_TO_SIGMA * (
        _row_quantile(srt, zero, n_valid, 0.75) - _row_quantile(srt, zero, n_valid, 0.25)
    )
    with np.errstate(invalid="ignore"):
        lo_v = (med - CLIP_SIGMA * sigma)[:, None]
        hi_v = (med + CLIP_SIGMA * sigma)[:, None]
        lo = np.sum(srt < lo_v, axis=1).astype(np.int64)
        hi = np.sum(srt <= hi_v, axis=1).astype(np.int64)
    n_keep = hi - lo
    sigma2 = IQR_TO_SIGMA * (
        _row_quantile(srt, lo, n_keep, 0.75) - _row_quantile(srt, lo, n_keep, 0.25)
    )
    return np.asarray(np.where(n_keep >= 16, sigma2, np.nan), dtype=np.float64)


def rms_map(
    image: NDArray[np.floating],
    *,
    box_px: int,
    stride: int = 1,
    mask_xy: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
    mask_radius_px: float = 0.0,
) -> RmsMap:
    """Compute the background-rms map of ``image``.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image (Jy/beam), shape ``(ny, nx)``; NaN marks blanked pixels.
    box_px : int
        Box side in pixels (see :func:`default_box_px`).
    mask_xy : (x_pix, y_pix), optional
        Known source positions (0-based pixels): pixels within ``mask_radius_px``
        of them are left out (forced photometry knows where its sources are).
    mask_radius_px : float
        Radius of the masked disc around each position, pixels.
    stride : int
        Use every ``stride``-th pixel of a box along each axis (noise correlated
        over several pixels carries little extra information in its neighbours; 2
        is safe when the beam minor axis spans >= 3 pixels).

    Returns
    -------
    RmsMap
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2:
        raise ValueError(f"rms_map needs a 2-D image, got shape {img.shape}")
    ny, nx = img.shape
    stride = max(1, int(stride))
    box = -(-int(box_px) // stride) * stride  # a multiple of the stride
    nby, nbx = -(-ny // box), -(-nx // box)
    padded = np.full((nby * box, nbx * box), np.nan, dtype=np.float32)
    padded[:ny, :nx] = img
    small = np.ascontiguousarray(padded[::stride, ::stride])
    bs = box // stride
    if mask_xy is not None and mask_radius_px > 0 and len(mask_xy[0]):
        mx, my = mask_xy
        _mask_discs(small, mx / stride, my / stride, mask_radius_px / stride, *small.shape)
    blocks = np.ascontiguousarray(small.reshape(nby, bs, nbx, bs).transpose(0, 2, 1, 3))
    blocks = blocks.reshape(nby * nbx, -1)
    grid = _box_stats(blocks).reshape(nby, nbx)
    # Smooth: 3 x 3 median of valid neighbours; fill empty boxes from neighbours.
    padded_grid = np.pad(grid, 1, mode="edge")
    stack = np.stack(
        [padded_grid[dy : dy + nby, dx : dx + nbx] for dy in range(3) for dx in range(3)]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN neighbourhoods stay NaN
        smooth = np.nanmedian(stack, axis=0)
    return RmsMap(grid=np.asarray(smooth, dtype=np.float64), box_px=box, shape=(ny, nx))


def _mask_discs(
    img: NDArray[np.float32],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    radius: float,
    ny: int,
    nx: int,
) -> None:
    """Set pixels within ``radius`` of each (x, y) to NaN, in place."""
    r = int(np.ceil(radius))
    oy, ox = np.mgrid[-r : r + 1, -r : r + 1]
    disc = oy**2 + ox**2 <= radius**2
    oy, ox = oy[disc], ox[disc]
    ok = np.isfinite(x) & np.isfinite(y)
    ix = np.rint(x[ok]).astype(np.int64)[:, None] + ox[None, :]
    iy = np.rint(y[ok]).astype(np.int64)[:, None] + oy[None, :]
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    img[iy[inside], ix[inside]] = np.nan


REPEAT_SNR_EDGES: tuple[float, ...] = (0.0, 5.0, 10.0, 20.0, 40.0)
"""SNR bins of the repeat-noise factor: [0, 5), [5, 10), [10, 20), [20, 40); brighter
sources take the last bin's factor (their errors are dominated by the flux-scale terms)."""


@dataclass(frozen=True)
class RepeatNoise:
    """The noise that differs between two images of the same pointing, over the rms map's,
    by the source's SNR (:data:`REPEAT_SNR_EDGES`)."""

    scales: tuple[float, ...]
    """Per SNR bin: robust std of the sources' normalised differences (1: the rms map
    is right)."""
    n_pairs: tuple[int, ...]
    """Pairs per bin (a bin with too few takes the factor of the bin below)."""

    @property
    def scale(self) -> float:
        """The faintest bin's factor (the best measured: most pairs)."""
        return self.scales[0]

    def factor(self, snr: ArrayLike) -> NDArray[np.float64]:
        """The factor for sources of SNR ``snr`` (|flux| / rms-map error)."""
        x = np.abs(np.asarray(snr, dtype=np.float64))
        k = np.clip(np.searchsorted(REPEAT_SNR_EDGES, np.nan_to_num(x), side="right") - 1, 0,
                    len(self.scales) - 1)  # fmt: skip
        out: NDArray[np.float64] = np.asarray(self.scales, dtype=np.float64)[k]
        return out


def repeat_noise_scale(
    flux_jyb: ArrayLike,
    err_jyb: ArrayLike,
    earlier_flux_jyb: ArrayLike,
    earlier_err_jyb: ArrayLike,
    *,
    min_pairs: int = 30,
    min_pairs_bin: int = 10,
    bounds: tuple[float, float] = (0.25, 4.0),
) -> RepeatNoise | None:
    """How much of the background rms scatters a light curve, from sources' pairs.

    The same sources measured in this image and in an earlier image of the same
    pointing (both normalised) differ by ``d = f - f_earlier``; if the rms map's
    errors ``s`` were the whole epoch-to-epoch noise, ``d / sqrt(s^2 + s_earlier^2)``
    would have unit standard deviation. Sidelobes and confusion that repeat at the
    same pointing are in the rms map but cancel in ``d``, so the robust standard
    deviation (1.4826 MAD: a few variable sources do not move it) of that ratio is
    the factor that turns the rms map's noise into the light curve's. It is measured
    per SNR bin (:data:`REPEAT_SNR_EDGES`, the lower of the two images' SNRs): the
    faintest needs ``min_pairs`` pairs, else None; another bin with fewer than
    ``min_pairs_bin`` takes the factor of the bin below. A factor outside ``bounds``
    means something else is wrong: None.

    Parameters
    ----------
    flux_jyb, err_jyb, earlier_flux_jyb, earlier_err_jyb : array_like
        Fluxes and rms-map errors of the same sources in both images, shape ``(n,)``.
    """
    f1 = np.asarray(flux_jyb, dtype=np.float64)
    s1 = np.asarray(err_jyb, dtype=np.float64)
    f0 = np.asarray(earlier_flux_jyb, dtype=np.float64)
    s0 = np.asarray(earlier_err_jyb, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(f1) & np.isfinite(f0) & (s1 > 0) & (s0 > 0)
        snr = np.minimum(np.abs(f1) / s1, np.abs(f0) / s0)
    scales: list[float] = []
    counts: list[int] = []
    for k, (lo, hi) in enumerate(itertools.pairwise(REPEAT_SNR_EDGES)):
        sel = ok & (snr >= lo) & (snr < hi)
        n = int(np.sum(sel))
        if n < (min_pairs if k == 0 else min_pairs_bin):
            if k == 0:
                return None
            scales.append(scales[-1])
            counts.append(n)
            continue
        z = (f1[sel] - f0[sel]) / np.hypot(s1[sel], s0[sel])
        r = MAD_TO_SIGMA * float(np.median(np.abs(z - np.median(z))))
        if not bounds[0] <= r <= bounds[1]:
            return None
        scales.append(r)
        counts.append(n)
    return RepeatNoise(scales=tuple(scales), n_pairs=tuple(counts))
