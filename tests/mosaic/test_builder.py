"""The mosaic builder on realistic synthetic pbcor images (science.md section 7)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from PIL import Image

from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.products import mosaics
from contimg.errors import ContimgError
from contimg.mosaic.builder import build_mosaic
from contimg.telescope import DSA110
from tests.factories import mosaic as synth

START = 61000.0  # 2025-11-21T00:00 UTC
DAY_S = 86_400.0


def _sources_around(ra_deg: float, dec_deg: float, flux_jy: float) -> list[synth.Source]:
    """A small grid of point sources around a position (0.6 deg apart on the sky)."""
    out = []
    cosd = math.cos(math.radians(dec_deg))
    for i in (-1, 0, 1):
        for j in (-1, 0, 1):
            out.append(synth.Source(ra_deg + 0.6 * i / cosd, dec_deg + 0.6 * j, flux_jy))
    return out


def _mosaic(row: dict[str, object]) -> tuple[np.ndarray, np.ndarray, WCS]:
    path = Path(str(row["path"]))
    data = fits.getdata(path).astype(np.float64)
    noise = fits.getdata(path.with_name(path.name.replace(".fits", ".noise.fits")))
    return data, noise.astype(np.float64), WCS(fits.getheader(path))


def _full_overlap_mask(
    wcs: WCS, shape: tuple[int, int], groups: list[synth.SynthGroup], margin_px: int = 6
) -> np.ndarray:
    """Mosaic pixels inside every input's valid (PB >= 0.2, inside the image) region."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    ra, dec = wcs.wcs_pix2world(xx, yy, 0)
    mask = np.ones(shape, dtype=bool)
    for g in groups:
        iw = synth.image_wcs(g.ra_deg, g.dec_deg, g.config).celestial
        ix, iy = iw.wcs_world2pix(ra, dec, 0)
        n = g.config.n_px
        inside = (ix > margin_px) & (ix < n - 1 - margin_px) & (iy > margin_px)
        inside &= iy < n - 1 - margin_px
        pb = synth.beam_of(g, ra, dec)
        mask &= inside & (pb > 0.25)
    return mask


def _away_from_sources(
    wcs: WCS, shape: tuple[int, int], sources: list[synth.Source], radius_px: float = 12
) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    keep = np.ones(shape, dtype=bool)
    for s in sources:
        sx, sy = wcs.wcs_world2pix([s.ra_deg], [s.dec_deg], 0)
        keep &= np.hypot(xx - sx[0], yy - sy[0]) > radius_px
    return keep


def _check_fluxes(
    data: np.ndarray, wcs: WCS, sources: list[synth.Source], region: np.ndarray
) -> list[float]:
    """Fitted peak / true flux of every source inside ``region``."""
    ratios = []
    for s in sources:
        sx, sy = wcs.wcs_world2pix([s.ra_deg], [s.dec_deg], 0)
        xi, yi = round(float(sx[0])), round(float(sy[0]))
        if not (0 <= yi < region.shape[0] and 0 <= xi < region.shape[1] and region[yi, xi]):
            continue
        peak, fx, fy = synth.fit_peak(data, float(sx[0]), float(sy[0]))
        assert math.hypot(fx - sx[0], fy - sy[0]) < 0.5, "source position is off"
        ratios.append(peak / s.flux_jy)
    return ratios


def test_same_field_noise_falls_as_sqrt_n_and_fluxes_hold(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    """Acceptance 3: N images fully overlapping: noise = single-image noise / sqrt(N)."""
    from tests.conftest import init_databases

    dbs = init_databases(sqlite_settings)
    n = 6
    ra0, dec0 = 150.0, 54.57
    sources = _sources_around(ra0, dec0, 0.05)
    groups = synth.drift_groups(
        tmp_path / "img",
        start_mjd=START,
        n_groups=n,
        ra0_deg=ra0,
        sources=sources,
        seed=11,
        same_pointing=True,
    )
    with dbs.products.write() as conn:
        synth.record_groups(conn, groups)
    result = build_mosaic(
        sqlite_settings, dbs, start_mjd=START, end_mjd=START + 1.0, name="same-field"
    )
    data, noise, wcs = _mosaic(result.row)
    region = _full_overlap_mask(wcs, data.shape, groups) & _away_from_sources(
        wcs, data.shape, sources
    )
    assert region.sum() > 5000

    # The single-image noise on the same pixels: one input resampled the same way.
    single = build_mosaic(
        sqlite_settings,
        dbs,
        start_mjd=groups[0].start_mjd,
        end_mjd=groups[0].end_mjd,
        name="single",
    )
    sdata, snoise, _ = _mosaic(single.row)
    assert sdata.shape == data.shape  # same pointing -> same grid
    single_std = float(np.std(sdata[region]))
    mosaic_std = float(np.std(data[region]))
    ratio = mosaic_std / (single_std / math.sqrt(n))
    print(f"same field: N={n} noise / (single / sqrt N) = {ratio:.3f}")
    assert abs(ratio - 1.0) < 0.15, ratio
    # The noise map predicts the same (it is what noise_jy summarises).
    predicted = float(np.median(noise[region]))
    assert abs(mosaic_std / predicted - 1.0) < 0.15
    assert abs(float(np.median(snoise[region])) / predicted / math.sqrt(n) - 1.0) < 0.01

    ratios = _check_fluxes(data, wcs, sources, _full_overlap_mask(wcs, data.shape, groups))
    print("same field: flux ratios", np.round(ratios, 4))
    assert len(ratios) == len(sources)
    assert max(abs(r - 1.0) for r in ratios) < 0.03, ratios
    dbs.dispose()


def test_drift_scan_mosaic_is_inverse_variance_weighted(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    """Drifting pointings with unequal noise: the measured noise follows the noise map,
    which is below every single image's noise, and fluxes are right."""
    from tests.conftest import init_databases

    dbs = init_databases(sqlite_settings)
    n = 4
    ra0 = 149.0
    mid_ra = synth.pointing_ra(ra0, 0) + 0.5 * (synth.pointing_ra(ra0, n - 1) - ra0)
    sources = _sources_around(mid_ra, 54.57, 0.05)
    groups = synth.drift_groups(
        tmp_path / "img",
        start_mjd=START,
        n_groups=n,
        ra0_deg=ra0,
        sources=sources,
        seed=5,
        rms_scale=[1.0, 2.0, 1.0, 0.7],
    )
    with dbs.products.write() as conn:
        synth.record_groups(conn, groups)
    result = build_mosaic(sqlite_settings, dbs, start_mjd=START, end_mjd=START + 1.0)
    data, noise, wcs = _mosaic(result.row)
    full = _full_overlap_mask(wcs, data.shape, groups)
    region = full & _away_from_sources(wcs, data.shape, sources)
    assert region.sum() > 3000

    # Noise map = 1 / sqrt(sum PB^2 / rms^2) from the model, pixel by pixel.
    yy, xx = np.nonzero(region)
    ra, dec = wcs.wcs_pix2world(xx, yy, 0)
    sum_w = np.zeros(ra.shape)
    best_single = np.full(ra.shape, np.inf)
    for g in groups:
        pb = synth.beam_of(g, ra, dec)
        sum_w += pb**2 / g.rms_jy**2
        best_single = np.minimum(best_single, g.rms_jy / pb)
    expected = 1.0 / np.sqrt(sum_w)
    assert np.allclose(noise[region], expected, rtol=0.01)
    assert np.all(noise[region] < best_single)
    # Measured scatter matches the noise map.
    z = data[region] / noise[region]
    print(f"drift: std(mosaic / noise map) = {np.std(z):.3f}")
    assert abs(float(np.std(z)) - 1.0) < 0.15, float(np.std(z))

    ratios = _check_fluxes(data, wcs, sources, full)
    print("drift: flux ratios", np.round(ratios, 4))
    assert len(ratios) >= 3
    assert max(abs(r - 1.0) for r in ratios) < 0.03, ratios
    dbs.dispose()


def test_row_files_and_thumbnail(dbs: Databases, settings: Settings, tmp_path: Path) -> None:
    """Acceptance 1: every column filled, FITS + noise map + PNG <= 512 px written."""
    sources = _sources_around(150.5, 54.57, 0.05)
    groups = synth.drift_groups(
        tmp_path / "img", start_mjd=START, n_groups=3, ra0_deg=149.5, sources=sources, seed=2
    )
    with dbs.products.write() as conn:
        synth.record_groups(conn, groups)
    lines: list[str] = []
    result = build_mosaic(
        settings,
        dbs,
        start_mjd=START,
        end_mjd=START + 3600 / DAY_S,
        name="three groups",
        progress=lines.append,
    )
    assert any("[3/3]" in line for line in lines)
    with dbs.products.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(mosaics.select())]
    assert len(rows) == 1
    row = rows[0]
    assert all(row[c.name] is not None for c in mosaics.c), row
    assert row["name"] == "three groups"
    assert row["n_images"] == 3
    assert row["start_mjd"] == pytest.approx(groups[0].start_mjd)
    assert row["end_mjd"] == pytest.approx(groups[-1].end_mjd)
    assert row["integration_sec"] == pytest.approx(3 * DSA110.group_duration_s)
    assert row["beam_major_arcsec"] == pytest.approx(300.0)
    assert row["beam_pa_deg"] == pytest.approx(110.0)
    assert row["center_dec_deg"] == pytest.approx(54.57, abs=0.2)
    assert row["dec_min_deg"] < 54.57 - 1.2 and row["dec_max_deg"] > 54.57 + 1.2
    assert 149.5 < row["center_ra_deg"] < 151.5
    assert 9 <= row["n_sources"] <= 10  # nine injected; noise peaks above 5 sigma are rare
    assert row["noise_jy"] > 0

    path = Path(row["path"])
    assert path.parent == settings.products_path / "mosaics"
    header = fits.getheader(path)
    assert header["BUNIT"] == "JY/BEAM" and header["NIMAGES"] == 3
    assert header["NOISE"] == pytest.approx(row["noise_jy"])
    noise = fits.getdata(result.noise_path)
    assert float(np.nanmedian(noise)) == pytest.approx(row["noise_jy"], rel=1e-6)
    with Image.open(row["thumbnail_path"]) as png:
        assert png.format == "PNG" and max(png.size) <= 512
    assert not list(path.parent.glob(".*tmp*"))


def test_errors_name_the_problem(dbs: Databases, settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ContimgError, match="no primary-beam-corrected images observed between"):
        build_mosaic(settings, dbs, start_mjd=START, end_mjd=START + 0.1)
    groups = synth.drift_groups(
        tmp_path / "img", start_mjd=START, n_groups=2, ra0_deg=10.0, sources=[], seed=3
    )
    with dbs.products.write() as conn:
        synth.record_groups(conn, groups)
    first = build_mosaic(settings, dbs, start_mjd=START, end_mjd=START + 0.1, name="m")
    with pytest.raises(ContimgError, match=r"already exists.*--replace"):
        build_mosaic(settings, dbs, start_mjd=START, end_mjd=START + 0.1, name="m")
    again = build_mosaic(
        settings, dbs, start_mjd=START, end_mjd=START + 0.1, name="m", replace=True
    )
    assert again.mosaic_id == first.mosaic_id
    with dbs.products.read() as conn:
        assert len(conn.execute(mosaics.select()).all()) == 1

    groups[1].image_path.unlink()
    with pytest.raises(ContimgError, match=str(groups[1].image_path)):
        build_mosaic(settings, dbs, start_mjd=START, end_mjd=START + 0.1, name="m2")
    with dbs.products.read() as conn:
        assert len(conn.execute(mosaics.select()).all()) == 1  # nothing stored is lost


def test_window_across_ra_zero(sqlite_settings: Settings, tmp_path: Path) -> None:
    """Pointings drifting through RA 0/360 (WSClean writes negative RA): one grid."""
    from tests.conftest import init_databases

    dbs = init_databases(sqlite_settings)
    sources = _sources_around(0.0, 54.57, 0.05)
    groups = synth.drift_groups(
        tmp_path / "img", start_mjd=START, n_groups=3, ra0_deg=358.7, sources=sources, seed=4
    )
    with dbs.products.write() as conn:
        synth.record_groups(conn, groups)
    result = build_mosaic(sqlite_settings, dbs, start_mjd=START, end_mjd=START + 0.1)
    data, _, wcs = _mosaic(result.row)
    assert data.shape[1] < 400  # not a 360-degree strip
    ratios = _check_fluxes(data, wcs, sources, _full_overlap_mask(wcs, data.shape, groups))
    assert len(ratios) >= 3
    assert max(abs(r - 1.0) for r in ratios) < 0.03, ratios
    dbs.dispose()


def test_a_full_day_wraps_around_the_sky(sqlite_settings: Settings, tmp_path: Path) -> None:
    """Pointings all round the RA circle give a 360-degree strip with no seam."""
    from tests.conftest import init_databases

    dbs = init_databases(sqlite_settings)
    cfg = synth.SynthConfig(
        n_px=48, cell_arcsec=360.0, beam_major_arcsec=1800.0, beam_minor_arcsec=1200.0
    )
    step_deg = 5.0
    n = 72
    groups = []
    rng_seed = 7
    for k in range(n):
        ra = (358.0 + k * step_deg) % 360.0
        start = START + k * synth.GROUP_S / DAY_S
        g = synth.drift_groups(
            tmp_path / "img" / str(k),
            start_mjd=start,
            n_groups=1,
            ra0_deg=ra,
            sources=[synth.Source(1.0, 54.57, 1.0)],
            seed=rng_seed + k,
            cfg=cfg,
        )
        groups += g
    with dbs.products.write() as conn:
        synth.record_groups(conn, groups)
    result = build_mosaic(sqlite_settings, dbs, start_mjd=START, end_mjd=START + 1.0)
    data, noise, wcs = _mosaic(result.row)
    header = fits.getheader(result.row["path"])
    assert header["CTYPE1"] == "RA---CAR"
    assert abs(header["NAXIS1"] * header["CDELT1"]) == pytest.approx(360.0)
    covered_cols = np.isfinite(noise).any(axis=0)
    assert covered_cols.all()  # no gap at the seam
    sx, sy = wcs.wcs_world2pix([1.0], [54.57], 0)
    peak, _, _ = synth.fit_peak(data, float(sx[0]), float(sy[0]), half_px=4)
    assert peak == pytest.approx(1.0, rel=0.03)
    dbs.dispose()


@pytest.mark.parametrize(
    ("cell_arcsec", "minors", "expected_arcsec"),
    [
        (3.0, [18.0, 15.0], 5.0),  # fine CLEAN cells: a third of the sharpest beam
        (10.0, [18.0], 10.0),  # never finer than the inputs
        (3.0, [None], 3.0),  # no beam recorded: the finest input cell
    ],
)
def test_default_cell_is_a_third_of_the_beam(
    cell_arcsec: float, minors: list[float | None], expected_arcsec: float
) -> None:
    from types import SimpleNamespace

    from astropy.wcs import WCS

    from contimg.mosaic.builder import default_cell_deg
    from contimg.mosaic.inputs import ImageGeometry

    wcs = WCS(naxis=2)
    wcs.wcs.cdelt = [-cell_arcsec / 3600, cell_arcsec / 3600]
    geometries = [ImageGeometry(wcs=wcs, shape=(64, 64), freq_hz=1.4e9) for _ in minors]
    inputs = [SimpleNamespace(beam_minor_arcsec=m) for m in minors]
    cell = default_cell_deg(inputs, geometries)  # type: ignore[arg-type]
    assert cell * 3600 == pytest.approx(expected_arcsec)
