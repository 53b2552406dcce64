"""Simulator speed and memory: seconds per group for the ci and demo presets.

Usage: ``python benchmarks/sim_bench.py [--full]``

Prints, per preset, the wall time of one group (after a warm-up group that pays the
one-off JIT compilation of numba kernels), the time of the same group's I/O alone
(writing the 16 files with zero data: the baseline measured in this process) and
their ratio, plus the process's peak resident memory. ``--full`` also simulates one
full-size group (96 antennas, 48 channels; minutes, not seconds).
Targets (issue 4): ci < 10 s, demo < 30 s per group; full < 8 GB peak.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from contimg.sim import observe
from contimg.sim.astro import configure_iers, icrs_of_pointing, mjd_from_iso
from contimg.sim.observe import plan_run, run_groups
from contimg.sim.sky import make_sky
from contimg.sim.visibilities import components_in_group

DEC = 54.57


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def bench(preset: str, base: Path) -> None:
    start = mjd_from_iso("2025-10-02T03:00:00")
    pra, pdec = icrs_of_pointing(start + 0.01, DEC)
    sky = make_sky(ra_deg=pra, dec_deg=pdec, radius_deg=4.0, seed=1, epoch_mjd=start)
    cfg = plan_run(out_dir=base / preset, sky=sky, start_mjd=start, n_groups=2,
                   dec_deg=DEC, preset=preset, seed=1)  # fmt: skip
    times = []
    for truth in run_groups(cfg, progress=lambda t, dt: times.append(dt)):
        del truth
    # Baseline: the same group's files written with no sky and no noise (I/O + headers).
    cfg_io = plan_run(out_dir=base / f"{preset}-io", sky=sky.__class__(
        sky.centre_ra_deg, sky.centre_dec_deg, 1, 0, start, 1, []), start_mjd=start,
        n_groups=1, dec_deg=DEC, preset=preset, seed=1, noise=False, corrupt=False)  # fmt: skip
    t0 = time.perf_counter()
    observe.simulate_group(cfg_io, cfg_io.plans[0])
    t_io = time.perf_counter() - t0
    n_comp = len(components_in_group(sky, cfg.plans[1], DEC,
                                     cfg.preset.min_apparent_flux_mjy))  # fmt: skip
    print(
        f"{preset:5s} antennas={cfg.layout.n_antennas:3d} "
        f"chan/sb={cfg.preset.n_chan_per_subband:2d} "
        f"components={n_comp:5d}  first group {times[0]:6.1f} s (with JIT)  "
        f"group {times[1]:6.1f} s  I/O-only baseline {t_io:5.1f} s  "
        f"ratio {times[1] / t_io:4.1f}x  peak RSS {peak_rss_gb():.2f} GB"
    )
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also time one full-size group")
    args = parser.parse_args()
    configure_iers()
    with tempfile.TemporaryDirectory() as tmp:
        for preset in ("ci", "demo"):
            bench(preset, Path(tmp))
        if args.full:
            bench("full", Path(tmp))


if __name__ == "__main__":
    main()
