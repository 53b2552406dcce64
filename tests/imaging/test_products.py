"""Airy pb-correction, robust noise and image metadata on FITS files shaped like WSClean's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from contimg.calibration.pointing import drift_pointings
from contimg.config import ImagingSettings
from contimg.errors import ContimgError
from contimg.imaging.products import image_meta, image_rows, pb_correct, robust_rms
from contimg.imaging.wsclean import grid_for, wsclean_command
from contimg.science.beams import primary_beam_at
from contimg.telescope import DSA110

N = 128
CELL_DEG = 60.0 / 3600.0


def _fits(
    path: Path,
    data: np.ndarray,
    *,
    ra_deg: float = 200.0,
    dec_deg: float = 54.0,
    cell_deg: float = CELL_DEG,
) -> Path:
    h = fits.Header()
    h["NAXIS"] = 4
    h.update(
        CTYPE1="RA---SIN", CRVAL1=ra_deg, CDELT1=-cell_deg, CRPIX1=N / 2 + 1, CUNIT1="deg",
        CTYPE2="DEC--SIN", CRVAL2=dec_deg, CDELT2=cell_deg, CRPIX2=N / 2 + 1, CUNIT2="deg",
        CTYPE3="FREQ", CRVAL3=1.405e9, CDELT3=187.5e6, CRPIX3=1.0, CUNIT3="Hz",
        CTYPE4="STOKES", CRVAL4=1.0, CDELT4=1.0, CRPIX4=1.0,
        BMAJ=80 / 3600, BMIN=15 / 3600, BPA=110.0, BUNIT="JY/BEAM",
    )  # fmt: skip
    fits.PrimaryHDU(data=data.reshape(1, 1, N, N).astype(np.float32), header=h).writeto(path)
    return path


def test_pb_correct_divides_by_time_averaged_airy(tmp_path: Path) -> None:
    img = _fits(tmp_path / "x-image.fits", np.ones((N, N)))
    pointings = drift_pointings(
        ra_deg=200.0, dec_deg=54.0, mid_mjd=100.0, start_mjd=100.0 - 154 / 86400,
        end_mjd=100.0 + 154 / 86400,
    )  # fmt: skip
    out = pb_correct(img, tmp_path / "x-pb.fits", pointings=pointings, pb_cut=0.2)
    pb = fits.getdata(out)[0, 0]
    centre = pb[N // 2, N // 2]
    # At the centre the drift-averaged response is a little below 1 (the beam moves 0.75 deg).
    single = float(
        primary_beam_at(200.0 + 0.37 / np.cos(np.radians(54)), 54.0, pointing_ra_deg=200.0,
                        pointing_dec_deg=54.0, freq_hz=1.405e9,
                        dish_diameter_m=DSA110.dish_diameter_m)
    )  # fmt: skip
    assert 1.0 < centre < 1.0 / single
    assert np.all(np.isfinite(pb))  # 1 deg field: all above the cut
    hdr = fits.getheader(out)
    assert hdr["PBCOR"] is True and hdr["PBCUT"] == 0.2


def test_drift_pointings_average_is_the_time_average() -> None:
    """The mean Airy response over drift_pointings equals the average over the group's 24
    integration centres (how the simulator and the sky apply the beam) to < 0.05 %, for a
    source at the centre and one 0.8 deg east; sampling the span's two ends was 0.5 % low."""
    mid, half = 100.0, 154.6 / 86400
    pts = drift_pointings(
        ra_deg=200.0, dec_deg=52.0, mid_mjd=mid, start_mjd=mid - half, end_mjd=mid + half
    )
    assert len(pts) == 9 and pts[4] == pytest.approx((200.0, 52.0))
    step = 2 * half / 24
    times = mid - half + (np.arange(24) + 0.5) * step
    for ra in (200.0, 200.0 + 0.8 / np.cos(np.radians(52.0))):

        def beam(pra: float, ra: float = ra) -> float:
            return float(
                primary_beam_at(ra, 52.0, pointing_ra_deg=pra, pointing_dec_deg=52.0,
                                freq_hz=1.405e9, dish_diameter_m=DSA110.dish_diameter_m)
            )  # fmt: skip

        ours = np.mean([beam(a) for a, _ in pts])
        truth = np.mean([beam(200.0 + (t - mid) * 360.98564736629) for t in times])
        assert ours == pytest.approx(truth, rel=5e-4)


def test_pb_cut_blanks_the_outskirts(tmp_path: Path) -> None:
    # A 4 deg field reaches beyond the 0.2 level (~2.3 deg radius).
    img = _fits(tmp_path / "big.fits", np.ones((N, N)), cell_deg=4.0 / N)
    out = pb_correct(img, tmp_path / "big-pb.fits", pointings=[(200.0, 54.0)], pb_cut=0.2)
    pb = fits.getdata(out)[0, 0]
    assert np.isnan(pb[0, 0]) and np.isfinite(pb[N // 2, N // 2])
    assert np.nanmax(pb) <= 1 / 0.2 + 1e-6


def test_robust_rms_ignores_sources_and_nans() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 2e-3, 100_000)
    x[:300] = 5.0  # bright sources
    x[300:400] = np.nan
    assert robust_rms(x) == pytest.approx(2e-3, rel=0.03)
    assert np.isnan(robust_rms(np.array([np.nan])))


def test_meta_and_rows_fill_every_column_and_wrap_ra(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = rng.normal(0, 1e-3, (N, N))
    data[N // 2, N // 2] = 0.5
    img = _fits(tmp_path / "g-image.fits", data, ra_deg=-10.0)
    res = _fits(tmp_path / "g-residual.fits", rng.normal(0, 1e-3, (N, N)), ra_deg=-10.0)
    meta = image_meta(img)
    assert meta.center_ra_deg == pytest.approx(350.0)
    assert meta.beam_major_arcsec == pytest.approx(80.0)
    assert meta.beam_minor_arcsec == pytest.approx(15.0)
    assert meta.cellsize_arcsec == pytest.approx(60.0)
    assert meta.freq_ghz == pytest.approx(1.405) and meta.bandwidth_mhz == pytest.approx(187.5)
    rows = image_rows(
        ms_path=tmp_path / "g.ms",
        paths={"image": img, "pbcor": img, "residual": res},
        noise_jy=1e-3,
        field_name="J2320+54",
        integration_s=309.2,
        now=1.0,
    )
    assert [r["pbcor"] for r in rows] == [0, 1, 0]
    for r in rows:
        assert all(v is not None for v in r.values()), r
    assert rows[0]["dynamic_range"] == pytest.approx(500.0, rel=1e-6)


def test_image_without_beam_is_refused(tmp_path: Path) -> None:
    img = _fits(tmp_path / "nobeam.fits", np.zeros((N, N)))
    with fits.open(img, mode="update") as hdul:
        del hdul[0].header["BMAJ"]
    with pytest.raises(ContimgError, match=r"nobeam\.fits: no restoring beam"):
        image_meta(img)


def test_wsclean_command_has_the_documented_settings(tmp_path: Path) -> None:
    s = ImagingSettings(preset="ci")
    cmd = wsclean_command(s, ms_path=tmp_path / "g.ms", prefix=tmp_path / "g", data_column="DATA")
    text = " ".join(cmd)
    for part in ("-weight briggs 0", "-auto-mask 5", "-auto-threshold 0.5", "-mgain 0.8",
                 "-reorder", "-pol I", "-size 4096 4096", "-scale 3.0asec",
                 "-use-wgridder", "-baseline-averaging 10"):  # fmt: skip
        assert part in text
    stacking = ImagingSettings(preset="ci", gridder="wstacking", baseline_averaging=0)
    cmd = wsclean_command(stacking, ms_path=tmp_path / "g.ms", prefix=tmp_path / "g",
                          data_column="DATA")  # fmt: skip
    assert "-use-wgridder" not in cmd and "-baseline-averaging" not in cmd
    assert grid_for(ImagingSettings(size_px=512, cell_arcsec=10.0)) == (512, 10.0)
