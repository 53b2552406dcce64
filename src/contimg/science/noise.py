"""Background-rms map of a radio image, robust to sources.

The image is cut into square boxes; in each box the rms is ``1.4826 * MAD``
after one pass of rejecting pixels more than 4 sigma from the median (sources).
The box grid is smoothed with a 3 x 3 median filter (a box full of a bright
source's sidelobes does not make a hole) and interpolated bilinearly between box
centres. Computed once per image; queried at any (sub-pixel) position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

MAD_TO_SIGMA = 1.482602218505602
CLIP_SIGMA = 4.0


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


def _box_stats(blocks: NDArray[np.float32]) -> NDArray[np.float64]:
    """Robust sigma of each row of ``blocks`` (n_boxes, n_pix), NaNs ignored."""
    has_nan = bool(np.isnan(blocks).any())
    median = np.nanmedian if has_nan else np.median
    with np.errstate(invalid="ignore"), _quiet_nan_warnings():
        med = median(blocks, axis=1)
        dev = np.abs(blocks - med[:, None])
        sigma = MAD_TO_SIGMA * median(dev, axis=1)
        keep = dev <= CLIP_SIGMA * sigma[:, None]
        clipped = np.where(keep, blocks, np.nan)
        med2 = np.nanmedian(clipped, axis=1)
        sigma2 = MAD_TO_SIGMA * np.nanmedian(np.abs(clipped - med2[:, None]), axis=1)
        n_valid = np.sum(np.isfinite(clipped), axis=1)
    sigma2 = np.where(n_valid >= 16, sigma2, np.nan)
    return np.asarray(sigma2, dtype=np.float64)


class _quiet_nan_warnings:
    def __enter__(self) -> None:
        import warnings

        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(*exc)  # type: ignore[arg-type]


def rms_map(image: NDArray[np.floating], *, box_px: int, stride: int = 1) -> RmsMap:
    """Compute the background-rms map of ``image``.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image (Jy/beam), shape ``(ny, nx)``; NaN marks blanked pixels.
    box_px : int
        Box side in pixels (see :func:`default_box_px`).
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
    box = int(box_px)
    nby, nbx = -(-ny // box), -(-nx // box)
    padded = np.full((nby * box, nbx * box), np.nan, dtype=np.float32)
    padded[:ny, :nx] = img
    sub = padded.reshape(nby, box, nbx, box)[:, ::stride, :, ::stride]
    blocks = np.ascontiguousarray(sub.transpose(0, 2, 1, 3)).reshape(nby * nbx, -1)
    grid = _box_stats(blocks).reshape(nby, nbx)
    # Smooth: 3 x 3 median of valid neighbours; fill empty boxes from neighbours.
    padded_grid = np.pad(grid, 1, mode="edge")
    stack = np.stack(
        [padded_grid[dy : dy + nby, dx : dx + nbx] for dy in range(3) for dx in range(3)]
    )
    with _quiet_nan_warnings():
        smooth = np.nanmedian(stack, axis=0)
    return RmsMap(grid=np.asarray(smooth, dtype=np.float64), box_px=box, shape=(ny, nx))
