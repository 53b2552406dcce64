"""Confusion by brighter neighbours, expected peaks and the repeat-noise factor (pure
functions)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import fftconvolve

from contimg.science.confusion import confused_by_brighter, default_sidelobe_level
from contimg.science.noise import repeat_noise_scale
from contimg.science.photometry import Beam, peak_fraction

ARCSEC = 1.0 / 3600.0


def test_a_faint_source_next_to_a_much_brighter_one_is_confused() -> None:
    # a 1.5 Jy source, a 150 mJy one 80" east, a 150 mJy one 300" east, a 20 Jy-free field
    ra = np.array([10.0, 10.0 + 80 * ARCSEC, 10.0 + 300 * ARCSEC, 11.0])
    dec = np.zeros(4)
    flux = np.array([1.5, 0.15, 0.15, 0.15])
    near = confused_by_brighter(ra, dec, flux, radius_deg=125 * ARCSEC, ratio=10.0)
    assert near.tolist() == [False, True, False, False]
    # the sidelobe test reaches further, only where the neighbour's sidelobes beat the error
    err = np.array([0.003, 0.003, 0.003, 0.003])
    far = confused_by_brighter(
        ra, dec, flux, radius_deg=125 * ARCSEC, ratio=10.0, err=err, sidelobe_level=0.005,
        sidelobe_radius_deg=600 * ARCSEC,
    )  # fmt: skip
    assert far.tolist() == [False, True, True, False]
    quiet = confused_by_brighter(
        ra, dec, flux, radius_deg=125 * ARCSEC, ratio=10.0, err=10 * err, sidelobe_level=0.005,
        sidelobe_radius_deg=600 * ARCSEC,
    )  # fmt: skip
    assert quiet.tolist() == [False, True, False, False]
    off = confused_by_brighter(ra, dec, flux, radius_deg=125 * ARCSEC, ratio=0.0)
    assert not off.any()


def test_the_sidelobe_level_scales_with_the_array() -> None:
    assert default_sidelobe_level(24) == 0.005
    assert default_sidelobe_level(96) < default_sidelobe_level(48) < 0.005


def test_repeat_noise_recovers_the_part_that_does_not_repeat() -> None:
    rng = np.random.default_rng(1)
    n = 400
    static, fresh = 2.0e-3, 1.5e-3  # the rms map sees both: 2.5 mJy
    total = np.hypot(static, fresh)
    truth = rng.uniform(0.0, 8e-3, n)
    pattern = rng.normal(0.0, static, n)
    f0 = truth + pattern + rng.normal(0.0, fresh, n)
    f1 = truth + pattern + rng.normal(0.0, fresh, n)
    err = np.full(n, total)
    rn = repeat_noise_scale(f1, err, f0, err)
    assert rn is not None
    assert abs(rn.scale - fresh / total) < 0.06  # 0.6
    assert rn.factor([1.0])[0] == rn.scale
    # too few faint pairs: no factor, the rms map stands
    assert repeat_noise_scale(f1[:20], err[:20], f0[:20], err[:20]) is None


def _gaussian(cov: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    inv = np.linalg.inv(cov)
    return np.exp(-0.5 * (inv[0, 0] * x**2 + 2 * inv[0, 1] * x * y + inv[1, 1] * y**2))


@pytest.mark.parametrize(
    ("size", "expected"),
    [((0.0, 0.0, 0.0), 1.0), ((np.nan, np.nan, np.nan), 1.0), ((27.5, 8.3, 34.2), None),
     ((40.0, 40.0, 0.0), None), ((25.0, 12.0, 100.0), 0.5)],
)  # fmt: skip
def test_peak_fraction_is_the_peak_of_the_convolved_source(
    size: tuple[float, float, float], expected: float | None
) -> None:
    beam = Beam(major_arcsec=25.0, minor_arcsec=12.0, pa_deg=100.0)
    frac = float(peak_fraction(beam, *size))
    if expected is not None:
        assert frac == pytest.approx(expected, rel=1e-9)
    # Against a numerical convolution on a 0.5" grid of (east, north) offsets.
    step = 0.5
    x, y = np.meshgrid(np.arange(-150, 150.5, step), np.arange(-150, 150.5, step))
    b = _gaussian(beam.sky_covariance(), x, y)  # peak 1: Jy/beam of a 1 Jy point source
    maj, mnr, pa = (0.0 if not np.isfinite(v) else v for v in size)
    if maj > 0:
        src = Beam(major_arcsec=maj, minor_arcsec=mnr, pa_deg=pa)
        s = _gaussian(src.sky_covariance(), x, y)
        s /= s.sum()  # 1 Jy spread over the source
        conv = fftconvolve(s, b, mode="same")
        assert frac == pytest.approx(conv.max(), rel=2e-3)
    else:
        assert frac == pytest.approx(1.0, rel=1e-12)


def test_a_resolved_source_is_compared_by_its_peak() -> None:
    # 282 mJy spread to a 105 mJy/beam peak, 215" from a 1.5 Jy point source: 5x its
    # flux but 14x its peak (the science benchmark's one false candidate, stop 26).
    ra = np.array([10.0, 10.0 + 215 * ARCSEC])
    dec = np.zeros(2)
    flux = np.array([1.5, 0.282])
    err = np.array([0.0005, 0.0044])
    kw = dict(radius_deg=125 * ARCSEC, ratio=10.0, err=err, sidelobe_level=0.005,
              sidelobe_radius_deg=625 * ARCSEC)  # fmt: skip
    assert not confused_by_brighter(ra, dec, flux, **kw).any()  # type: ignore[arg-type]
    peak = np.array([1.5, 0.105])
    hit = confused_by_brighter(ra, dec, flux, peak=peak, **kw)  # type: ignore[arg-type]
    assert hit.tolist() == [False, True]
