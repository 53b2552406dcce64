"""The demo's schedule and injected ESE source (no processes, no tools)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from contimg.config import get_settings
from contimg.demo import DEMO_START, DemoOptions, children, injected_ese, plan
from contimg.sim.astro import icrs_of_pointing, mjd_from_iso
from contimg.sim.observe import calibrator_position, parse_selection, plan_run
from contimg.sim.sky import Component, Sky, SkySource
from contimg.sim.variability import flux_factor


def test_schedule_is_what_the_simulator_child_writes(tmp_path: Path) -> None:
    opts = DemoOptions()
    plans = plan(opts)
    per_day = 1 + opts.science_groups
    assert len(plans) == opts.days * per_day
    sim = next(c for c in children(get_settings(home=tmp_path), opts) if c.name == "simulator")
    argv = list(sim.argv)

    def arg(name: str) -> str:
        return argv[argv.index(name) + 1]

    ra, dec = calibrator_position(opts.calibrator)
    sky = Sky(ra, dec, 1.0, 0, 60950.0, 1.0,
              [SkySource("", ra, dec, 22000.0, -0.7, [Component(ra, dec, 1.0)],
                         calibrator=opts.calibrator)])  # fmt: skip
    cfg = plan_run(
        out_dir=tmp_path / "in", sky=sky, start_mjd=mjd_from_iso(arg("--start")),
        n_groups=int(arg("--groups")), dec_deg=float(arg("--dec")),
        calibrator=arg("--calibrator"), seed=int(arg("--seed")),
        days=int(arg("--days")), select=parse_selection(arg("--select")),
    )  # fmt: skip
    assert arg("--start") == DEMO_START
    assert [p.group_id for p in cfg.plans] == [p.group_id for p in plans]


def test_injected_source_is_steady_then_dips_in_every_days_science_strip() -> None:
    opts = DemoOptions()
    plans = plan(opts)
    per_day = 1 + opts.science_groups
    info = injected_ese(opts, plans)
    for day in range(opts.days):
        science = plans[day * per_day + 1 : (day + 1) * per_day]
        middle = science[len(science) // 2]
        ra, dec = icrs_of_pointing(middle.mid_mjd, opts.dec_deg)
        dra = (info["ra_deg"] - ra) * np.cos(np.radians(dec))
        assert np.hypot(dra, info["dec_deg"] - dec) < 0.3  # inside every science image
        factors = [float(flux_factor(info["light_curve"], p.mid_mjd)) for p in science]
        first_dip_day = opts.ese_day - 1
        if day < first_dip_day or day >= first_dip_day + opts.ese_duration_days:
            assert factors == pytest.approx([1.0] * len(science), abs=0.01), day
        else:
            assert factors == pytest.approx([1 - opts.ese_depth] * len(science), abs=0.01), day
