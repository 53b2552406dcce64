"""Fixtures of the stage tests: a small UVH5 group written once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from astropy.time import Time

from contimg.calibration.pointing import meridian_pointing_icrs
from contimg.telescope import DSA110
from tests.stages.groups import PointSource, write_group

GROUP_START = "2025-10-02T00:12:00"
N_TIMES = 4
DEC_DEG = 54.57


@pytest.fixture(scope="session")
def small_group_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 UVH5 files (6 antennas, 2 channels per subband, 4 integrations)."""
    out = tmp_path_factory.mktemp("uvh5")
    start = Time(GROUP_START, scale="utc")
    mid = start.mjd + 0.5 * N_TIMES * DSA110.integration_s / 86400.0
    ra, dec = meridian_pointing_icrs(mid, DEC_DEG)
    write_group(
        out,
        start=start,
        dec_deg=DEC_DEG,
        sources=[PointSource(ra, dec, 5.0)],
        n_ant=6,
        n_chan=2,
        n_times=N_TIMES,
    )
    return out


@pytest.fixture
def small_group(small_group_dir: Path, tmp_path: Path) -> dict[int, Path]:
    """A private copy of the small group: subband index -> file."""
    out = tmp_path / "incoming"
    shutil.copytree(small_group_dir, out)
    return {int(p.stem[-2:]): p for p in sorted(out.glob("*.hdf5"))}
