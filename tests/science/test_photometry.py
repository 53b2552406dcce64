"""Forced photometry: calibrated errors in beam-correlated noise, blends, flags."""

from __future__ import annotations

import numpy as np
import pytest

from contimg.science.flags import PhotFlag, describe, is_good
from contimg.science.noise import rms_map
from contimg.science.photometry import (
    Beam,
    forced_photometry,
    pixel_beam_covariance,
)
from tests.factories.images import make_image, rotated_wcs


@pytest.fixture(scope="module")
def injected() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """600 isolated sources in two 1024^2 images: rotated WCS, elongated rotated beam,
    beam-correlated noise whose rms doubles across the image."""
    meas, err, true, rms = [], [], [], []
    for seed in (101, 202):
        im = make_image(
            n_pix=1024,
            n_sources=300,
            seed=seed,
            rms_gradient=2.0,
            rot_deg=25.0,
            beam=Beam(major_arcsec=14.0, minor_arcsec=9.0, pa_deg=35.0),
        )
        res = forced_photometry(im.data, im.wcs, im.beam, im.ra_deg, im.dec_deg)
        assert np.all(res.flags == 0)
        meas.append(res.peak_jyb)
        err.append(res.peak_err_jyb)
        true.append(im.true_jyb)
        rms.append(im.rms_true)
    return tuple(np.concatenate(a) for a in (meas, err, true, rms))  # type: ignore[return-value]


def test_errors_are_calibrated(injected: tuple[np.ndarray, ...]) -> None:
    meas, err, true, _ = injected
    assert meas.size >= 500
    z = (meas - true) / err
    assert abs(np.std(z) - 1.0) < 0.10, np.std(z)
    assert abs(np.mean(z)) < 0.15


def test_estimator_scatter_is_the_local_rms(injected: tuple[np.ndarray, ...]) -> None:
    meas, err, true, rms = injected
    q = (meas - true) / rms
    assert abs(np.std(q) - 1.0) < 0.10, np.std(q)
    # the error bar follows the local (position-dependent) noise
    assert np.median(np.abs(err / rms - 1.0)) < 0.05


def test_naive_white_noise_fit_would_not_be_calibrated() -> None:
    """The reason for the estimator: a least-squares beam fit with white-noise errors
    gives errors far too small in beam-correlated noise (documented in the module)."""
    im = make_image(n_pix=512, n_sources=100, seed=7)
    res = forced_photometry(im.data, im.wcs, im.beam, im.ra_deg, im.dec_deg)
    x, y = np.rint(res.x_pix).astype(int), np.rint(res.y_pix).astype(int)
    naive_amp, naive_err = [], []
    yy, xx = np.mgrid[-6:7, -6:7]
    _, _, cov = pixel_beam_covariance(im.wcs, im.beam, im.ra_deg, im.dec_deg)
    for k in range(len(x)):
        ic = np.linalg.inv(cov[k])
        dx, dy = xx + x[k] - res.x_pix[k], yy + y[k] - res.y_pix[k]
        model = np.exp(-0.5 * (ic[0, 0] * dx * dx + 2 * ic[0, 1] * dx * dy + ic[1, 1] * dy * dy))
        d = im.data[y[k] - 6 : y[k] + 7, x[k] - 6 : x[k] + 7]
        naive_amp.append(np.sum(model * d) / np.sum(model**2))
        naive_err.append(im.rms_true[k] / np.sqrt(np.sum(model**2)))
    z_naive = (np.array(naive_amp) - im.true_jyb) / np.array(naive_err)
    assert np.std(z_naive) > 1.5


def test_blended_pairs_fitted_jointly() -> None:
    rng = np.random.default_rng(5)
    beam = Beam(major_arcsec=14.0, minor_arcsec=9.0, pa_deg=35.0)
    cell = 3.0
    fwhm_px = beam.major_arcsec / cell
    pos, flux = [], []
    for gy in range(12):
        for gx in range(12):
            cx, cy = 60 + gx * 75.0, 60 + gy * 75.0
            sep = rng.uniform(0.6, 1.4) * fwhm_px
            ang = rng.uniform(0, np.pi)
            pos += [(cx, cy), (cx + sep * np.cos(ang), cy + sep * np.sin(ang))]
            flux += list(rng.uniform(10, 40, 2) * 1e-3)
    im = make_image(
        n_pix=1024,
        cell_arcsec=cell,
        beam=beam,
        positions_px=np.array(pos),
        fluxes_jyb=np.array(flux),
        seed=11,
    )
    res = forced_photometry(im.data, im.wcs, im.beam, im.ra_deg, im.dec_deg)
    assert np.all(res.flags & PhotFlag.BLENDED)
    assert is_good(int(res.flags[0]))
    z = (res.peak_jyb - im.true_jyb) / res.peak_err_jyb
    assert abs(np.std(z) - 1.0) < 0.12, np.std(z)
    assert abs(np.mean(z)) < 0.2
    # a fit ignoring the neighbour would be biased high by the overlapping beam
    single = forced_photometry(
        im.data, im.wcs, im.beam, im.ra_deg, im.dec_deg, blend_radius_beams=0.0
    )
    assert np.mean(single.peak_jyb - im.true_jyb) > 5 * np.mean(res.peak_err_jyb) / np.sqrt(
        len(pos)
    )


def test_beam_orientation_in_pixel_space_follows_the_wcs() -> None:
    beam = Beam(major_arcsec=20.0, minor_arcsec=10.0, pa_deg=30.0)
    for rot in (0.0, 40.0, -70.0):
        wcs = rotated_wcs(n_pix=256, cell_arcsec=2.0, ra_deg=10.0, dec_deg=30.0, rot_deg=rot)
        _, _, cov = pixel_beam_covariance(wcs, beam, [10.0], [30.0])
        vals, vecs = np.linalg.eigh(cov[0])
        assert np.sqrt(vals[1]) * 2.3548 * 2.0 == pytest.approx(20.0, rel=1e-3)
        assert np.sqrt(vals[0]) * 2.3548 * 2.0 == pytest.approx(10.0, rel=1e-3)
        # the major axis, mapped back to the sky, points at PA 30 deg east of north
        x0, y0 = wcs.all_world2pix([10.0], [30.0], 0)
        major = vecs[:, 1]
        ra2, dec2 = wcs.all_pix2world(x0 + 10 * major[0], y0 + 10 * major[1], 0)
        east = (ra2[0] - 10.0) * np.cos(np.deg2rad(30.0))
        north = dec2[0] - 30.0
        pa = np.rad2deg(np.arctan2(east, north)) % 180.0
        assert pa == pytest.approx(30.0, abs=0.1)


def test_flags_edge_blank_pb_and_outside() -> None:
    im = make_image(
        n_pix=256,
        positions_px=np.array([[128.0, 128.0], [2.0, 128.0], [60.0, 60.0], [200.0, 200.0]]),
        fluxes_jyb=np.array([0.02, 0.02, 0.02, 0.02]),
        seed=3,
    )
    data = im.data.copy()
    data[58:62, 58:62] = np.nan
    ra = np.append(im.ra_deg, im.wcs.all_pix2world([-50.0], [128.0], 0)[0])
    dec = np.append(im.dec_deg, im.wcs.all_pix2world([-50.0], [128.0], 0)[1])
    pb = np.array([0.9, 0.9, 0.9, 0.05, 0.9])
    res = forced_photometry(data, im.wcs, im.beam, ra, dec, pb_response=pb, pb_cut=0.1)
    assert res.flags[0] == 0
    assert res.peak_jyb[0] == pytest.approx(0.02, abs=5 * res.peak_err_jyb[0])
    assert res.flags[1] & PhotFlag.EDGE and not res.flags[1] & PhotFlag.FIT_FAILED
    assert res.flags[2] & PhotFlag.BLANKED
    assert res.flags[3] == PhotFlag.BELOW_PB
    assert res.flags[4] & PhotFlag.FIT_FAILED and np.isnan(res.peak_jyb[4])
    assert describe(int(res.flags[3])) == ["BELOW_PB"]
    # the blanked patch does not spoil the sources away from it
    assert np.isfinite(res.peak_jyb[0])


def test_rms_map_is_robust_to_sources() -> None:
    im = make_image(
        n_pix=512, n_sources=200, seed=9, fluxes_jyb=np.full(200, 0.5)
    )  # 500 sigma sources
    rms = rms_map(im.data, box_px=64, stride=2)
    vals = rms.at(np.array([100.0, 300.0, 450.0]), np.array([100.0, 250.0, 400.0]))
    assert np.all(np.abs(vals / 1e-3 - 1.0) < 0.1)
    assert rms.full().shape == (512, 512)


def test_undersampled_beam_measures_the_nearest_pixel() -> None:
    """A beam narrower than 1.5 pixels (the scaled-down CI preset: 7" minor axis in
    50" cells) cannot be interpolated; CLEAN puts the flux in the nearest pixel."""
    beam = Beam(major_arcsec=90.0, minor_arcsec=7.0, pa_deg=90.0)
    rng = np.random.default_rng(8)
    grid = np.array([[x, y] for x in range(20, 240, 20) for y in range(20, 240, 20)], float)
    im = make_image(
        n_pix=256,
        cell_arcsec=50.0,
        beam=beam,
        positions_px=grid,
        fluxes_jyb=np.full(len(grid), 0.02),
        seed=8,
        rot_deg=0.0,
    )
    jitter = rng.uniform(-0.3, 0.3, grid.shape)
    ra, dec = im.wcs.all_pix2world(grid[:, 0] + jitter[:, 0], grid[:, 1] + jitter[:, 1], 0)
    res = forced_photometry(im.data, im.wcs, im.beam, ra, dec)
    good = res.flags == 0
    assert good.sum() > 100
    z = (res.peak_jyb[good] - 0.02) / res.peak_err_jyb[good]
    assert abs(np.mean(z)) < 0.3 and 0.8 < np.std(z) < 1.2
