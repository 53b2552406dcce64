"""Simulated NVSS/FIRST/VLASS catalogs: layout, units, content, truth."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from contimg.errors import ContimgError
from contimg.sim.astro import mjd_from_iso
from contimg.sim.sky import (
    CALIBRATORS,
    field_area_deg2,
    iau_name,
    load_sky,
    make_sky,
    write_catalogs,
)
from contimg.sim.variability import flux_factor

EPOCH = mjd_from_iso("2025-10-02T00:00:00")


@pytest.fixture(scope="module")
def cat_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cat")
    sky = make_sky(ra_deg=202.78, dec_deg=30.51, radius_deg=3.0, seed=7, epoch_mjd=EPOCH)
    write_catalogs(sky, d)
    return d


def test_column_layout_and_units(cat_dir: Path) -> None:
    nvss = Table.read(cat_dir / "nvss.fits")
    first = Table.read(cat_dir / "first.fits")
    vlass = Table.read(cat_dir / "vlass.fits")
    assert nvss.colnames == [
        "NVSS",
        "RAJ2000",
        "DEJ2000",
        "S1.4",
        "e_S1.4",
        "MajAxis",
        "MinAxis",
        "PA",
    ]
    assert first.colnames == ["FIRST", "RAJ2000", "DEJ2000", "Fpeak", "Fint", "Rms", "Maj", "Min",
                              "PA", "fMaj", "fMin", "fPA"]  # fmt: skip
    assert vlass.colnames == ["Component_name", "RA", "DEC", "Total_flux", "E_Total_flux",
                              "Peak_flux", "E_Peak_flux", "Maj", "Min", "PA"]  # fmt: skip
    assert str(nvss["S1.4"].unit) == "mJy" and str(nvss["RAJ2000"].unit) == "deg"
    assert str(nvss["MajAxis"].unit) == "arcsec"
    assert str(first["Fpeak"].unit) == "mJy / beam" and str(first["Fint"].unit) == "mJy"
    assert str(vlass["Peak_flux"].unit) == "mJy / beam" and str(vlass["Total_flux"].unit) == "mJy"
    assert all(re.fullmatch(r"\d{6}\.\d[+-]\d{6}", str(n)) for n in nvss["NVSS"])


def test_density_sizes_pairs_and_spectral_indices(cat_dir: Path) -> None:
    nvss = Table.read(cat_dir / "nvss.fits")
    first = Table.read(cat_dir / "first.fits")
    density = len(nvss) / field_area_deg2(3.0)
    assert 40 < density < 60  # NVSS: ~53 per deg^2 above 2.5 mJy
    assert np.median(nvss["S1.4"]) < 15  # steep counts: most sources are faint
    assert np.max(nvss["S1.4"]) > 500
    # Resolved sources (FIRST deconvolved major axis > 6") and close pairs (< 7.5").
    assert (np.asarray(first["Maj"]) > 6).sum() > 0.05 * len(first)
    ra, dec = np.radians(first["RAJ2000"]), np.radians(first["DEJ2000"])
    xyz = np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    from scipy.spatial import cKDTree

    pairs = cKDTree(xyz).query_pairs(np.radians(7.5 / 3600))
    assert len(pairs) > 0.02 * len(nvss)
    truth = json.loads((cat_dir / "sky_truth.json").read_text())
    alpha = np.array([s["alpha"] for s in truth["sources"]])
    assert -0.85 < np.median(alpha) < -0.6 and alpha.std() > 0.2


def test_truth_ids_match_nvss_names_and_calibrators(cat_dir: Path) -> None:
    nvss = Table.read(cat_dir / "nvss.fits")
    sky = load_sky(cat_dir)
    ids = {s.source_id for s in sky.sources}
    assert ids == {f"NVSS J{n}" for n in nvss["NVSS"]}
    cal = [s for s in sky.sources if s.calibrator == "3C286"]
    assert len(cal) == 1
    ra, dec, flux_jy, _ = CALIBRATORS["3C286"]
    assert cal[0].ra_deg == ra and cal[0].dec_deg == dec
    assert cal[0].flux_1400_mjy == flux_jy * 1000
    row = nvss[[f"NVSS J{n}" == cal[0].source_id for n in nvss["NVSS"]]][0]
    assert abs(row["S1.4"] / 1000 - flux_jy) < 0.1 * flux_jy
    assert iau_name(ra, dec)[:11] == "133108.2+30"


def test_variable_sources_dip_and_flare(cat_dir: Path) -> None:
    sky = load_sky(cat_dir)
    kinds = [s.variability["kind"] for s in sky.sources]
    assert kinds.count("constant") > 0.95 * len(kinds)
    eses = [s.variability for s in sky.sources if s.variability["kind"] == "ese"]
    assert len(eses) >= 3
    for lc in eses:
        t = lc["t_center_mjd"] + np.linspace(-1, 1, 2001) * lc["duration_s"] / 86400
        f = flux_factor(lc, t)
        assert 0.1 <= 1 - f.min() <= 0.5 + 1e-9  # a 10-50 % dip
        assert f.max() > 1.05  # brighter edges
        assert float(flux_factor(lc, lc["t_center_mjd"] + 10)) == pytest.approx(1.0)
    assert any(k in ("flare", "drop") for k in kinds)


def test_same_seed_same_sky(tmp_path: Path) -> None:
    a = make_sky(ra_deg=10, dec_deg=54, radius_deg=1, seed=3, epoch_mjd=EPOCH)
    b = make_sky(ra_deg=10, dec_deg=54, radius_deg=1, seed=3, epoch_mjd=EPOCH)
    assert [s.flux_1400_mjy for s in a.sources] == [s.flux_1400_mjy for s in b.sources]


def test_unreadable_catalog_dir_errors(tmp_path: Path) -> None:
    with pytest.raises(ContimgError, match="does not exist"):
        load_sky(tmp_path / "nope")
    with pytest.raises(ContimgError, match=r"no sky_truth\.json"):
        load_sky(tmp_path)
    (tmp_path / "sky_truth.json").write_text("{not json")
    with pytest.raises(ContimgError, match="not valid JSON"):
        load_sky(tmp_path)
    (tmp_path / "sky_truth.json").write_text('{"sources": [{}]}')
    with pytest.raises(ContimgError, match="malformed"):
        load_sky(tmp_path)


def test_unwritable_catalog_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    sky = make_sky(ra_deg=10, dec_deg=54, radius_deg=0.5, seed=1, epoch_mjd=EPOCH)
    with pytest.raises(ContimgError, match="cannot create catalog directory"):
        write_catalogs(sky, blocker / "sub")


def test_injected_source_is_isolated_catalogued_and_dips(tmp_path: Path) -> None:
    from contimg.sim.sky import inject_source, load_sky, make_sky, write_catalogs
    from contimg.sim.variability import ese, flux_factor

    sky = make_sky(ra_deg=150.0, dec_deg=50.0, radius_deg=1.0, seed=4, epoch_mjd=60950.0)
    lc = ese(t_center_mjd=60952.0, duration_s=2 * 86400.0, depth=0.4, edge_boost=0.1)
    src = inject_source(sky, ra_deg=150.0, dec_deg=50.0, flux_1400_mjy=250.0, variability=lc)
    others = [s for s in sky.sources if s is not src]
    sep_arcsec = 3600 * np.hypot(
        [(s.ra_deg - 150.0) * np.cos(np.radians(50.0)) for s in others],
        [s.dec_deg - 50.0 for s in others],
    )
    assert sep_arcsec.min() > 180.0  # neighbours within 3' were removed
    write_catalogs(sky, tmp_path)
    assert src.source_id.startswith("NVSS J")
    truth = {s.source_id: s for s in load_sky(tmp_path).sources}[src.source_id]
    assert truth.flux_1400_mjy == 250.0 and truth.variability == lc
    assert float(flux_factor(lc, 60950.0)) == pytest.approx(1.0, abs=1e-3)
    assert float(flux_factor(lc, 60952.0)) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="0 < depth < 1"):
        ese(t_center_mjd=60952.0, duration_s=1.0, depth=1.5, edge_boost=0.1)
