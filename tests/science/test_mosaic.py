"""Mosaicking maths: grids, seams, weights, accumulation, noise map, source count."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.wcs import WCS
from hypothesis import given, settings
from hypothesis import strategies as st

from contimg.science import mosaic as mm


def _sin_wcs(ra_deg: float, dec_deg: float, *, n: int = 100, cell_deg: float = 0.035) -> WCS:
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    w.wcs.crval = [ra_deg, dec_deg]
    w.wcs.cdelt = [-cell_deg, cell_deg]
    w.wcs.crpix = [n / 2 + 1, n / 2 + 1]
    w.wcs.set()
    return w


def test_ra_arc_across_zero_and_full_circle() -> None:
    start, width, gap = mm.ra_arc(np.array([359.0, 358.0, 1.0, 2.5]))
    assert start == 358.0 and width == pytest.approx(4.5) and gap == pytest.approx(355.5)
    _, width, gap = mm.ra_arc(np.arange(0.0, 360.0, 0.5))
    assert gap == pytest.approx(0.5) and width == pytest.approx(359.5)


def test_common_grid_covers_every_footprint_with_square_pixels() -> None:
    wcss = [_sin_wcs(150.0 + 1.3 * k, 54.57) for k in range(4)]
    feet = [mm.footprint_points(w, (100, 100)) for w in wcss]
    grid = mm.common_grid(feet, cell_deg=0.035)
    assert grid.wcs.wcs.ctype[0] == "RA---CAR" and not grid.full_circle
    for ra, dec in feet:
        x, y = grid.to_pixel(ra, dec)
        assert x.min() >= 0 and y.min() >= 0
        assert x.max() <= grid.shape[1] - 1 and y.max() <= grid.shape[0] - 1
    # Square pixels on the sky at the central Dec: RA step * cos(Dec) = Dec step.
    dec_mid = float(grid.wcs.wcs_pix2world([0], [grid.shape[0] / 2], 0)[1][0])
    width = abs(grid.wcs.wcs.cdelt[0]) * math.cos(math.radians(dec_mid))
    assert width == pytest.approx(0.035, rel=0.01)


def test_grid_across_ra_zero_is_compact() -> None:
    feet = [mm.footprint_points(_sin_wcs(ra, 30.0), (100, 100)) for ra in (358.5, 0.5, 2.0)]
    grid = mm.common_grid(feet, cell_deg=0.035)
    assert not grid.full_circle
    assert grid.shape[1] * abs(grid.wcs.wcs.cdelt[0]) < 12.0
    boxes = grid.boxes_for(*feet[0])
    assert len(boxes) == 1


def test_full_circle_grid_wraps_and_splits_boxes_at_the_seam() -> None:
    feet = [mm.footprint_points(_sin_wcs(ra, 54.57), (100, 100)) for ra in range(0, 360, 4)]
    grid = mm.common_grid(feet, cell_deg=0.035)
    assert grid.full_circle
    assert grid.shape[1] * abs(grid.wcs.wcs.cdelt[0]) == pytest.approx(360.0)
    # The seam is at RA 0 (crval 180): the footprint centred on RA 0 straddles it.
    boxes = grid.boxes_for(*feet[0])
    assert len(boxes) == 2
    assert boxes[0].x0 == 0 and boxes[1].x1 == grid.shape[1]
    total = sum(b.shape[1] for b in boxes)
    assert total < grid.shape[1] / 10
    # Every column is inside some footprint's boxes.
    cols = np.zeros(grid.shape[1], dtype=bool)
    for ra, dec in feet:
        for b in grid.boxes_for(ra, dec):
            cols[b.x0 : b.x1] = True
    assert cols.all()


def test_polar_footprints_get_a_zea_grid() -> None:
    feet = [mm.footprint_points(_sin_wcs(ra, 86.0), (100, 100)) for ra in (0.0, 90.0, 200.0)]
    grid = mm.common_grid(feet, cell_deg=0.035)
    assert grid.wcs.wcs.ctype[0] == "RA---ZEA"
    for ra, dec in feet:
        x, y = grid.to_pixel(ra, dec)
        assert np.all((x >= 0) & (x < grid.shape[1]) & (y >= 0) & (y < grid.shape[0]))


def test_box_wcs_matches_the_grid() -> None:
    grid = mm.common_grid([mm.footprint_points(_sin_wcs(10.0, 20.0), (100, 100))], cell_deg=0.05)
    box = mm.Box(y0=5, y1=20, x0=7, x1=30)
    sub = grid.box_wcs(box)
    ra_a, dec_a = grid.wcs.wcs_pix2world([7 + 3], [5 + 4], 0)
    ra_b, dec_b = sub.wcs_pix2world([3], [4], 0)
    assert ra_a[0] == pytest.approx(ra_b[0]) and dec_a[0] == pytest.approx(dec_b[0])


def test_pixel_weights_are_inverse_variance() -> None:
    pb = np.array([1.0, 0.5, 0.19, np.nan])
    w = mm.pixel_weights(pb, rms_jy=2e-3, pb_min=0.2)
    assert w == pytest.approx([1 / 4e-6, 0.25 / 4e-6, 0.0, 0.0])
    with pytest.raises(ValueError, match="noise"):
        mm.pixel_weights(pb, rms_jy=0.0, pb_min=0.2)


def test_accumulator_gives_weighted_mean_and_noise_map() -> None:
    acc = mm.WeightedAccumulator((4, 6))
    box_a = mm.Box(0, 4, 0, 4)
    box_b = mm.Box(0, 4, 2, 6)
    img_a = np.full((4, 4), 1.0)
    img_a[0, 0] = np.nan  # blank: ignored
    acc.add(box_a, img_a, np.full((4, 4), 1.0))
    acc.add(box_b, np.full((4, 4), 4.0), np.full((4, 4), 3.0))
    covered = acc.covered()
    assert not covered[0, 0] and covered.sum() == 23
    mosaic, noise = acc.finish()
    assert np.isnan(mosaic[0, 0]) and np.isnan(noise[0, 0])
    assert mosaic[1, 0] == pytest.approx(1.0) and noise[1, 0] == pytest.approx(1.0)
    assert mosaic[1, 3] == pytest.approx((1 * 1 + 3 * 4) / 4)
    assert noise[1, 3] == pytest.approx(0.5)
    assert mosaic[1, 5] == pytest.approx(4.0) and noise[1, 5] == pytest.approx(1 / math.sqrt(3))
    assert mm.median_noise(noise) == pytest.approx(float(np.nanmedian(noise)))
    with pytest.raises(RuntimeError):
        acc.add(box_a, img_a, np.ones((4, 4)))
    with pytest.raises(ValueError, match="do not fit"):
        mm.WeightedAccumulator((4, 6)).add(box_a, np.ones((3, 3)), np.ones((3, 3)))


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-10, 10, allow_nan=False), st.floats(0.01, 100, allow_nan=False)),
        min_size=1,
        max_size=20,
    )
)
def test_accumulation_equals_numpy_weighted_average(pairs: list[tuple[float, float]]) -> None:
    acc = mm.WeightedAccumulator((1, 1))
    box = mm.Box(0, 1, 0, 1)
    for value, weight in pairs:
        acc.add(box, np.array([[value]]), np.array([[weight]]))
    mosaic, noise = acc.finish()
    values, weights = np.array(pairs).T
    assert float(mosaic[0, 0]) == pytest.approx(np.average(values, weights=weights), abs=1e-4)
    assert float(noise[0, 0]) == pytest.approx(1 / math.sqrt(weights.sum()), rel=1e-5)


def test_count_sources_counts_islands_above_threshold() -> None:
    mosaic = np.zeros((50, 50))
    noise = np.ones((50, 50))
    mosaic[10:13, 10:13] = 8.0  # one island
    mosaic[30, 30] = 6.0  # another
    mosaic[31, 31] = 6.0  # diagonal neighbour: same island
    mosaic[40, 5] = 4.9  # below 5 sigma
    mosaic[45, 45] = -9.0  # negative: not a source
    mosaic[20, 40] = np.nan
    assert mm.count_sources(mosaic, noise, snr_min=5.0) == 2
    assert mm.count_sources(mosaic, noise, snr_min=4.0) == 3


def test_mean_beam_averages_position_angle_axially() -> None:
    maj, mnr, pa = mm.mean_beam([60, 58], [18, 20], [179.0, 3.0], [1.0, 1.0])
    assert maj == pytest.approx(59) and mnr == pytest.approx(19)
    assert pa == pytest.approx(1.0, abs=1e-6)
    assert mm.mean_beam([60], [18], [110.0], [2.0])[2] == pytest.approx(110.0)
    assert mm.mean_beam([60], [18], [-70.0], [2.0])[2] == pytest.approx(110.0)


def test_covered_dec_range_and_centre() -> None:
    grid = mm.common_grid([mm.footprint_points(_sin_wcs(100.0, 40.0), (100, 100))], cell_deg=0.035)
    covered = np.zeros(grid.shape, dtype=bool)
    covered[10:20, 30:40] = True
    lo, hi = mm.covered_dec_range(grid, covered)
    _, dec_rows = grid.wcs.wcs_pix2world([35, 35], [10, 19], 0)
    assert lo == pytest.approx(dec_rows[0]) and hi == pytest.approx(dec_rows[1])
    ra_c, dec_c = mm.grid_centre(grid, covered)
    ra_e, dec_e = grid.wcs.wcs_pix2world([34.5], [14.5], 0)
    assert ra_c == pytest.approx(ra_e[0] % 360) and dec_c == pytest.approx(dec_e[0])
