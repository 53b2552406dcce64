"""Robust stretch and PNG rendering of sky images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from contimg.science.stretch import block_reduce_nanmean, render_png, robust_limits


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_block_reduce_ignores_nan_and_keeps_partial_blocks() -> None:
    data = np.arange(25, dtype=float).reshape(5, 5)
    data[0, 0] = np.nan
    out = block_reduce_nanmean(data, 2, chunk_px=10)
    assert out.shape == (3, 3)
    assert out[0, 0] == pytest.approx(np.mean([1, 5, 6]))
    assert out[2, 2] == pytest.approx(24.0)
    assert np.isnan(block_reduce_nanmean(np.full((4, 4), np.nan), 2)).all()


def test_robust_limits_ignore_a_hot_pixel_and_blanks() -> None:
    rng = np.random.default_rng(1)
    data = rng.normal(0, 1, (200, 200))
    data[5, 5] = 1e6
    data[:20] = np.nan
    lo, hi = robust_limits(data, lower_percentile=1, upper_percentile=99)
    assert -3 < lo < -2 and 2 < hi < 3
    assert robust_limits(np.full((3, 3), np.nan)) == (0.0, 1.0)


def test_render_png_size_aspect_orientation_and_transparency() -> None:
    data = np.zeros((300, 3000))
    data[-10:, :] = 10.0  # the northernmost rows (FITS top) are bright
    data[:, :50] = np.nan
    image = _png(render_png(data, max_size_px=512))
    assert image.mode == "LA"
    assert max(image.size) <= 512 and image.size == (500, 50)
    grey = np.asarray(image)[..., 0]
    alpha = np.asarray(image)[..., 1]
    assert grey[0, 200] == 255 and grey[-1, 200] == 0  # north up
    assert (alpha[:, :8] == 0).all() and (alpha[:, 10:] == 255).all()


def test_render_png_keeps_small_images_and_drops_degenerate_axes() -> None:
    data = np.random.default_rng(2).normal(size=(1, 1, 64, 80))
    image = _png(render_png(data, stretch="linear"))
    assert image.size == (80, 64)
    with pytest.raises(ValueError, match="2-D"):
        render_png(np.zeros(10))
    with pytest.raises(ValueError, match="unknown stretch"):
        render_png(np.zeros((4, 4)), stretch="cube")  # type: ignore[arg-type]
