"""Seconds per stage per group from UVH5 files to a calibrated image, and the real-time factor.

Part 1 (default): simulate ``--groups`` groups of the ``--preset`` (default ``demo``)
with a calibrator (3C295) transiting the first, then run convert -> calibrate ->
image on each (the real DP3 and WSClean) and print the seconds of every stage and
of the ``performance_metrics`` sub-steps, each stage's share of the group's total,
and the real-time factor RTF = 309 s of sky per group / processing seconds (> 1:
keeps up with the telescope on this machine).

Part 2 (``--full-memory``): write one FULL-SIZE group (96 antennas, 48 channels per
subband, 24 integrations, 4 polarisations: 16 x ~0.4 GB of noise visibilities),
convert it in a child process and print the child's peak memory (max RSS) against
the size of one subband's and of the whole group's visibilities. Conversion
streams the subbands, so the peak must stay near one subband's worth (<< 8 GB).

    .venv/bin/python benchmarks/chain_bench.py                 # demo, 2 groups
    .venv/bin/python benchmarks/chain_bench.py --preset ci --groups 3
    .venv/bin/python benchmarks/chain_bench.py --full-memory --skip-chain
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GROUP_SKY_S = 24 * 12.884902


def run_chain(work: Path, preset: str, n_groups: int) -> None:
    from contimg.config import Settings
    from contimg.db import migrations
    from contimg.db.engine import Databases, open_database
    from contimg.sim.observe import simulate_groups
    from contimg.sim.sky import CALIBRATORS, make_sky
    from contimg.stages.base import StageContext
    from contimg.stages.calibrate import CalibrateStage
    from contimg.stages.convert import ConvertStage
    from contimg.stages.image import ImageStage

    settings = Settings(home=work / "home", imaging={"preset": preset})
    for name in ("ingest", "cal_registry", "products", "master_sources"):
        db = open_database(settings, name, create_dirs=True)
        migrations.upgrade(db)
        db.dispose()
    dbs = Databases(settings)
    ra, dec = CALIBRATORS["3C295"][:2]
    sky = make_sky(
        ra_deg=ra + 1.0, dec_deg=dec, radius_deg=3.0, seed=3, epoch_mjd=60950.0, min_flux_mjy=10.0
    )
    print(f"simulating {n_groups} {preset} group(s) ...", flush=True)
    t0 = time.perf_counter()
    truths = list(
        simulate_groups(
            out_dir=settings.incoming_path, start_mjd=60950.0, n_groups=n_groups, sky=sky,
            preset=preset, calibrator="3C295", calibrator_group=0, seed=1,
            truth_dir=work / "truth",
        )
    )  # fmt: skip
    print(f"  simulated in {time.perf_counter() - t0:.0f} s\n")
    files = sorted(settings.incoming_path.glob("*.hdf5"))
    stages = [ConvertStage(), CalibrateStage(), ImageStage()]
    header = f"{'group':<20} {'kind':<11}" + "".join(f"{s.name:>10}" for s in stages)
    header += f"{'total':>9}{'RTF':>7}   sub-steps (s)"
    print(header)
    for truth in truths:
        names = set(truth["files"])
        paths = {int(p.stem[-2:]): p for p in files if p.name in names}
        gid = truth["group_id"]
        ctx = StageContext(
            settings=settings, dbs=dbs, group_id=gid, subband_paths=paths,
            workdir=settings.products_path / gid,
        )  # fmt: skip
        secs = []
        for stage in stages:
            t = time.perf_counter()
            stage.run(ctx)
            secs.append(time.perf_counter() - t)
        total = sum(secs)
        kind = "calibrator" if truth["index"] == 0 else "science"
        subs = ", ".join(f"{k}={v:.1f}" for k, v in ctx.timings_s.items())
        row = f"{gid:<20} {kind:<11}" + "".join(f"{s:>10.1f}" for s in secs)
        print(f"{row}{total:>9.1f}{GROUP_SKY_S / total:>7.2f}   {subs}")
        shares = "  ".join(f"{st.name} {s / total:.0%}" for st, s in zip(stages, secs, strict=True))
        print(f"{'':<32}share of total: {shares}")
    dbs.dispose()


def _convert_child(paths: dict[int, Path], out: Path, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    from contimg.conversion.ms import convert_group

    t = time.perf_counter()
    res = convert_group(paths, out)
    queue.put((time.perf_counter() - t, res.conversion_s, res.concat_s))


def run_full_memory(work: Path, n_times: int = 24) -> None:
    from astropy.time import Time
    from tests.stages.groups import write_group

    from contimg.telescope import DSA110

    n_ant, n_chan = DSA110.n_antennas_typical, DSA110.n_chan_per_subband
    n_bl = n_ant * (n_ant + 1) // 2
    vis_bytes = n_bl * n_times * n_chan * 4 * 8  # complex64
    print(
        f"\nwriting a full-size group: {n_ant} antennas, {n_chan} channels x 16 subbands, "
        f"{n_times} integrations ({vis_bytes / 1e9:.2f} GB of visibilities per subband)"
    )
    t = time.perf_counter()
    inc = work / "full"
    paths = write_group(
        inc, start=Time("2025-10-02T00:12:00", scale="utc"), dec_deg=54.57, sources=[],
        n_ant=n_ant, n_chan=n_chan, n_times=n_times, noise_jy=1.0,
    )  # fmt: skip
    on_disk = sum(p.stat().st_size for p in paths)
    print(f"  written in {time.perf_counter() - t:.0f} s, {on_disk / 1e9:.2f} GB on disk")
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    proc = ctx.Process(
        target=_convert_child,
        args=({int(p.stem[-2:]): p for p in paths}, inc / "full.ms", queue),
    )
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise SystemExit(f"conversion child failed (exit {proc.exitcode})")
    wall, conv, concat = queue.get()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(f"  converted in {wall:.0f} s (conversion {conv:.0f} s, concat {concat:.0f} s)")
    print(f"  peak memory of the converting process: {peak / 1e9:.2f} GB")
    print(
        f"  = {peak / vis_bytes:.1f} x one subband's visibilities, "
        f"{peak / (16 * vis_bytes):.2f} x the whole group's; limit 8 GB: "
        f"{'OK' if peak < 8e9 else 'EXCEEDED'}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--preset", default="demo", choices=["ci", "demo", "full"])
    ap.add_argument("--groups", type=int, default=2, help="Groups (the first is the calibrator).")
    ap.add_argument("--full-memory", action="store_true", help="Also measure full-size conversion.")
    ap.add_argument("--skip-chain", action="store_true", help="Only the memory measurement.")
    ap.add_argument(
        "--full-times", type=int, default=24,
        help="Integrations of the full-size memory group (24 = a real group; fewer = scaled).",
    )  # fmt: skip
    ap.add_argument("--work", type=Path, default=None, help="Work directory (default: a temp).")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="chain_bench_"))
    try:
        if not args.skip_chain:
            run_chain(work, args.preset, args.groups)
        if args.full_memory:
            run_full_memory(work, args.full_times)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
