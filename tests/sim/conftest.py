"""Fixtures of the simulator tests: one small simulated run shared by the session."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contimg.sim.astro import configure_iers, icrs_of_pointing, mjd_from_iso
from contimg.sim.observe import simulate_groups
from contimg.sim.sky import make_sky, write_catalogs

configure_iers()

DEC = 54.57
START = "2025-10-02T03:00:00"


@dataclass
class SimRun:
    cat_dir: Path
    out_dir: Path
    truths: list[dict[str, Any]]
    run: dict[str, Any]


@pytest.fixture(scope="session")
def ci_run(tmp_path_factory: pytest.TempPathFactory) -> SimRun:
    """Two consecutive ci groups of a small sky (sparser than NVSS to stay quick)."""
    base = tmp_path_factory.mktemp("simrun")
    start = mjd_from_iso(START)
    pra, pdec = icrs_of_pointing(start + 300 / 86400, DEC)
    sky = make_sky(
        ra_deg=pra, dec_deg=pdec, radius_deg=3.0, seed=2, epoch_mjd=start, density_per_deg2=10
    )
    write_catalogs(sky, base / "cat")
    truths = list(
        simulate_groups(
            out_dir=base / "incoming",
            catalog_dir=base / "cat",
            start_mjd=start,
            n_groups=2,
            dec_deg=DEC,
            preset="ci",
            seed=3,
        )
    )
    run = json.loads((base / "incoming" / "truth" / "run.json").read_text())
    return SimRun(base / "cat", base / "incoming", truths, run)
