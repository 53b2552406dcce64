"""Confusion by brighter neighbours and the repeat-noise factor (pure functions)."""

from __future__ import annotations

import numpy as np

from contimg.science.confusion import confused_by_brighter, default_sidelobe_level
from contimg.science.noise import repeat_noise_scale

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
