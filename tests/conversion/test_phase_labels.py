"""One group, two labellings: as pyuvdata labels it and as DSA-110's writer labels it.

Both must image coherently WITHOUT calibration (real WSClean): conversion decides the
true phase centre from the data (the uvw), not only from the label.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.time import Time

from contimg.calibration.pointing import meridian_pointing_icrs
from contimg.config import ImagingSettings
from contimg.conversion.ms import _read_uvh5, convert_group, relabel_phase_centre
from contimg.imaging.wsclean import run_wsclean
from contimg.sim.dsa110_labels import relabel_as_dsa110_writer
from contimg.telescope import DSA110
from tests.stages.groups import PointSource, write_group
from tests.stages.measure import fit_point_source, load_image

START = Time("2025-10-02T03:00:00", scale="utc")
N_TIMES = 6


@pytest.fixture(scope="module")
def groups(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("labels")
    mid = START.mjd + 0.5 * N_TIMES * DSA110.integration_s / 86400.0
    ra, dec = meridian_pointing_icrs(mid, 54.57)
    off_ra = ra + 0.4 / np.cos(np.radians(dec))
    sources = [PointSource(ra, dec, 5.0), PointSource(off_ra, dec + 0.2, 3.0)]
    paths = write_group(base / "pyuvdata", start=START, dec_deg=54.57, n_ant=10, n_chan=2,
                        n_times=N_TIMES, sources=sources, noise_jy=0.05)  # fmt: skip
    shutil.copytree(base / "pyuvdata", base / "dsa110")
    for p in sorted((base / "dsa110").glob("*.hdf5")):
        relabel_as_dsa110_writer(p)
    return {"base": base, "sources": sources, "n": len(paths)}


def _files(d: Path) -> dict[int, Path]:
    return {int(p.stem[-2:]): p for p in sorted(d.glob("*.hdf5"))}


def test_labels_differ_and_conversion_recognises_them(groups: dict) -> None:
    base = groups["base"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        uv_p = _read_uvh5(_files(base / "pyuvdata")[0])
        uv_d = _read_uvh5(_files(base / "dsa110")[0])
    assert next(iter(uv_p.phase_center_catalog.values()))["cat_type"] == "driftscan"
    assert next(iter(uv_d.phase_center_catalog.values()))["cat_type"] == "unprojected"
    np.testing.assert_allclose(uv_d.data_array, uv_p.data_array, atol=1e-5)
    assert not relabel_phase_centre(uv_p, Path("p"))
    assert relabel_phase_centre(uv_d, Path("d"))
    # pyuvdata's own zenith-drift files (the simulator's) keep their label: their uvw are
    # the zenith's.
    uv_z = uv_p.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        uv_z.unproject_phase()
    assert not relabel_phase_centre(uv_z, Path("z"))


@pytest.mark.tools
@pytest.mark.parametrize("label", ["pyuvdata", "dsa110"])
def test_both_labellings_image_coherently_without_calibration(
    groups: dict, label: str, tmp_path: Path
) -> None:
    ms = tmp_path / "g.ms"
    convert_group(_files(groups["base"] / label), ms)
    settings = ImagingSettings(size_px=256, cell_arcsec=30.0)
    products = run_wsclean(settings, ms_path=ms, prefix=tmp_path / "img", data_column="DATA")
    data, wcs, header = load_image(products.image)
    for src in groups["sources"]:
        flux = fit_point_source(data, wcs, header, ra_deg=src.ra_deg, dec_deg=src.dec_deg)
        print(label, src.flux_jy, round(flux, 3))
        assert flux == pytest.approx(src.flux_jy, rel=0.05)
