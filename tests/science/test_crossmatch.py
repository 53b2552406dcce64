"""Crossmatch maths: nearest match against brute force (seam and poles included),
confusion counts, spectral index, resolved flags, separations."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from contimg.science import crossmatch as xm


def _brute(ref_ra, ref_dec, cat_ra, cat_dec, radius_arcsec):  # type: ignore[no-untyped-def]
    sep = (
        xm.angular_separation_deg(
            np.asarray(ref_ra)[:, None],
            np.asarray(ref_dec)[:, None],
            cat_ra[None, :],
            cat_dec[None, :],
        )
        * 3600.0
    )
    within = sep <= radius_arcsec
    idx = np.where(within.any(axis=1), np.argmin(np.where(within, sep, np.inf), axis=1), -1)
    return idx, within.sum(axis=1)


@pytest.mark.parametrize(
    ("ra0", "dec0"), [(0.0, 0.0), (180.0, 30.0), (0.0, 89.995), (90.0, -89.995)]
)
def test_match_nearest_equals_brute_force(ra0: float, dec0: float) -> None:
    rng = np.random.default_rng(int(ra0 + dec0 * 7 + 1000))

    # Dense fields around the centre (tens of arcsec), so that 0, 1 and 2+ partners all occur.
    def field(n: int) -> tuple[np.ndarray, np.ndarray]:
        d = rng.uniform(-60, 60, (n, 2)) / 3600.0
        c = SkyCoord(ra0 * u.deg, dec0 * u.deg).spherical_offsets_by(
            d[:, 0] * u.deg, d[:, 1] * u.deg
        )
        return c.ra.deg, c.dec.deg

    ref_ra, ref_dec = field(300)
    cat_ra, cat_dec = field(400)
    m = xm.match_nearest(ref_ra, ref_dec, cat_ra, cat_dec, radius_arcsec=7.5)
    idx, n_within = _brute(ref_ra, ref_dec, cat_ra, cat_dec, 7.5)
    np.testing.assert_array_equal(m.index, idx)
    np.testing.assert_array_equal(m.n_within, np.minimum(n_within, 2))
    assert (n_within == 0).any() and (n_within == 1).any() and (n_within >= 2).any()
    hit = m.index >= 0
    expected_sep = SkyCoord(ref_ra[hit] * u.deg, ref_dec[hit] * u.deg).separation(
        SkyCoord(cat_ra[m.index[hit]] * u.deg, cat_dec[m.index[hit]] * u.deg)
    )
    np.testing.assert_allclose(m.sep_arcsec[hit], expected_sep.arcsec, atol=1e-6)
    assert np.isnan(m.sep_arcsec[~hit]).all()


def test_match_across_ra_seam_and_pole() -> None:
    m = xm.match_nearest([359.9995, 10.0], [10.0, 89.999], [0.0005, 190.0], [10.0, 89.999])
    np.testing.assert_array_equal(m.index, [0, 1])
    assert m.sep_arcsec[0] == pytest.approx(3.6 * np.cos(np.deg2rad(10.0)), rel=1e-4)
    assert m.sep_arcsec[1] == pytest.approx(7.2, rel=1e-6)


def test_match_radius_edges_and_empty() -> None:
    # Exactly at the radius matches; just beyond does not.
    m = xm.match_nearest([0.0, 0.0], [0.0, 10.0], [0.0, 0.0], [7.5 / 3600, 10.0 + 7.5001 / 3600])
    np.testing.assert_array_equal(m.index, [0, -1])
    empty = xm.match_nearest([1.0], [1.0], [], [])
    assert empty.index.tolist() == [-1] and empty.n_within.tolist() == [0]
    single = xm.match_nearest([1.0], [1.0], [1.0], [1.0])
    assert single.index.tolist() == [0] and single.n_within.tolist() == [1]
    with pytest.raises(ValueError, match="radius"):
        xm.match_nearest([1.0], [1.0], [1.0], [1.0], radius_arcsec=0.0)


def test_spectral_index() -> None:
    s_n = np.array([10.0, 10.0, 10.0, np.nan, 10.0, 0.0])
    s_v = np.array([10.0 * (3 / 1.4) ** -0.7, 10.0 * (3 / 1.4) ** 0.3, 10.0, 5.0, -1.0, 5.0])
    alpha = xm.spectral_index(s_v, s_n)
    np.testing.assert_allclose(alpha[:3], [-0.7, 0.3, 0.0], atol=1e-12)
    assert np.isnan(alpha[3:]).all()


def test_flags_and_snr() -> None:
    np.testing.assert_array_equal(
        xm.resolved_flags([6.0, 6.01, np.nan, 0.0, 20.0]), [False, True, False, False, True]
    )
    np.testing.assert_array_equal(xm.resolved_flags([7.0], threshold_arcsec=8.0), [False])
    np.testing.assert_array_equal(
        xm.confusion_flags([0, 1, 2, 0, 1], [0, 1, 0, 2, 2]), [False, False, True, True, True]
    )
    np.testing.assert_allclose(
        xm.snr([10.0, 10.0, 10.0], [2.0, 0.0, np.nan]), [5.0, np.nan, np.nan]
    )


def test_angular_separation_matches_astropy() -> None:
    rng = np.random.default_rng(2)
    ra1, ra2 = rng.uniform(0, 360, (2, 500))
    dec1, dec2 = np.rad2deg(np.arcsin(rng.uniform(-1, 1, (2, 500))))
    ours = xm.angular_separation_deg(ra1, dec1, ra2, dec2)
    ref = SkyCoord(ra1 * u.deg, dec1 * u.deg).separation(SkyCoord(ra2 * u.deg, dec2 * u.deg)).deg
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    # Tiny separations keep their precision (no arccos of ~1).
    assert xm.angular_separation_deg(10.0, 20.0, 10.0, 20.0 + 1e-9)[()] == pytest.approx(
        1e-9, rel=1e-6
    )
