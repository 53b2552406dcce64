"""Each stage of a group, from UVH5 files to photometry and the mosaic, and the real-time factor.

Part 1 (default): simulate ``--groups`` groups of the ``--preset`` (default ``demo``;
``full`` = the telescope's size: 96 antennas, 48 channels per subband, 16 x 184 MB) on
an NVSS-density sky with a calibrator (3C295) transiting the first; then run every
stage of each group (convert -> calibrate -> image -> photometry, then the mosaic
of the groups so far), each in a FRESH process, and print per stage: wall and CPU
seconds (the process and the DP3 / WSClean it ran), peak memory (the larger of the
process's and its largest tool's), bytes written and disk growth; per group the
real-time factor RTF = 309 s of sky / seconds of the worker's stages (> 1: keeps up
on this machine), the products kept and any temporary file left behind; at the end
the bright compact sources' fluxes against the simulator's truth. The simulated
files are kept in ``--work`` and reused by the next run (the simulation is not
what is measured).

Part 2 (``--bad-input``): the science group again through the real scanner, queue
and worker, once with a subband missing and once with a file truncated (with the
calibrator group queued behind it): outcome, error and seconds.

Part 3 (``--full-memory``): one FULL-SIZE group of noise converted in a child process:
its peak memory against one subband's and the whole group's visibilities.

    .venv/bin/python benchmarks/chain_bench.py                 # demo, 2 groups
    .venv/bin/python benchmarks/chain_bench.py --preset full --work /tmp/full --bad-input
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GROUP_SKY_S = 24 * 12.884902
STAGE_NAMES = ("convert", "calibrate", "image", "photometry")
TEMP_PATTERNS = ("*.tmp", "*.parts", ".solve-*", "*-part*.tmp", "*.ms-spw*")
"""Names of the temporary files and directories a stage may leave behind."""


def _tree_bytes(root: Path) -> int:
    total = 0
    for p in root.rglob("*"):
        try:
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
        except OSError:
            pass
    return total


def _leftovers(root: Path) -> list[Path]:
    return sorted({p for pat in TEMP_PATTERNS for p in root.rglob(pat)})


def _proc_io() -> dict[str, int]:
    """This process's I/O counters; reaped children (DP3, WSClean) are included."""
    try:
        lines = Path("/proc/self/io").read_text().splitlines()
    except OSError:
        return {}
    return {k: int(v) for k, v in (line.split(": ") for line in lines)}


def _settings(work: Path, preset: str) -> Any:
    from contimg.config import Settings

    return Settings(home=work / "home", imaging={"preset": preset})


def _stage_child(work: Path, preset: str, gid: str, paths: dict[int, Path], name: str,
                 window: tuple[float, float], queue: mp.Queue) -> None:  # type: ignore[type-arg]  # fmt: skip
    """Run ONE stage (or the mosaic update) of one group in this fresh process and
    report its wall and CPU seconds, peak memory and bytes written."""
    import os

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from contimg.db.engine import Databases
    from contimg.sim.astro import configure_iers
    from contimg.stages.base import StageContext
    from contimg.stages.builtin import load_builtin_stages

    configure_iers()
    settings = _settings(work, preset)
    dbs = Databases(settings)
    stages = {s.name: s for s in load_builtin_stages()}
    io0 = _proc_io()
    t = time.perf_counter()
    timings: dict[str, float] = {}
    if name == "mosaic":
        from contimg.mosaic.builder import build_mosaic

        res = build_mosaic(settings, dbs, start_mjd=window[0], end_mjd=window[1],
                           name="chain-bench", replace=True)  # fmt: skip
        timings = {k: float(v) for k, v in res.timings_s.items()}
    else:
        ctx = StageContext(settings=settings, dbs=dbs, group_id=gid, subband_paths=paths,
                           workdir=settings.products_path / gid)  # fmt: skip
        stages[name].run(ctx)
        timings = dict(ctx.timings_s)
    wall = time.perf_counter() - t
    io1 = _proc_io()
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    dbs.dispose()
    queue.put({
        "wall": wall,
        "cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
        "peak": max(me.ru_maxrss, kids.ru_maxrss) * 1024,
        "written": io1.get("write_bytes", 0) - io0.get("write_bytes", 0),
        "timings": timings,
    })  # fmt: skip


def _run_stage(*args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    proc = ctx.Process(target=_stage_child, args=(*args, queue))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise SystemExit(f"stage {args[4]} of group {args[2]} failed (exit {proc.exitcode})")
    return dict(queue.get())


def simulate(work: Path, preset: str, n_groups: int) -> list[dict[str, Any]]:
    """Simulate the groups (NVSS-density sky, 3C295 transiting the first) and write its
    survey catalogs, unless ``work`` already holds them (the simulation is not measured)."""
    import json

    from contimg.sim.observe import simulate_groups
    from contimg.sim.sky import CALIBRATORS, make_sky, write_catalogs

    truth_dir = work / "truth"
    done = (
        sorted(p for p in truth_dir.glob("*.json") if p.name != "run.json")
        if truth_dir.is_dir()
        else []
    )
    if len(done) >= n_groups and (work / "catalogs" / "nvss.fits").is_file():
        print(f"reusing the {n_groups} simulated group(s) in {work}\n", flush=True)
        return [json.loads(p.read_text()) for p in done[:n_groups]]
    ra, dec = CALIBRATORS["3C295"][:2]
    sky = make_sky(ra_deg=ra + 1.0, dec_deg=dec, radius_deg=3.0, seed=3, epoch_mjd=60950.0)
    write_catalogs(sky, work / "catalogs")
    print(f"simulating {n_groups} {preset} group(s), {len(sky.sources)} sources ...", flush=True)
    t0 = time.perf_counter()
    truths = list(
        simulate_groups(
            out_dir=work / "home" / "incoming", start_mjd=60950.0, n_groups=n_groups, sky=sky,
            preset=preset, calibrator="3C295", calibrator_group=0, seed=1, truth_dir=truth_dir,
        )
    )  # fmt: skip
    print(f"  simulated in {time.perf_counter() - t0:.0f} s\n", flush=True)
    return truths


def run_chain(work: Path, preset: str, n_groups: int) -> None:
    from contimg.catalog.build import BuildInputs, build_catalog
    from contimg.db import migrations
    from contimg.db.engine import open_database

    truths = simulate(work, preset, n_groups)
    settings = _settings(work, preset)
    shutil.rmtree(settings.products_path, ignore_errors=True)
    shutil.rmtree(settings.state_path, ignore_errors=True)
    for name in ("ingest", "cal_registry", "products", "master_sources"):
        db = open_database(settings, name, create_dirs=True)
        migrations.upgrade(db)
        db.dispose()
    cats = work / "catalogs"
    build_catalog(settings, BuildInputs(nvss_path=cats / "nvss.fits",
                                        first_path=cats / "first.fits",
                                        vlass_path=cats / "vlass.fits"))  # fmt: skip
    files = {p.name: p for p in settings.incoming_path.glob("*.hdf5")}
    in_bytes = sum(p.stat().st_size for p in files.values())
    print(f"input: {len(files)} UVH5 files, {in_bytes / 1e9:.2f} GB "
          f"({in_bytes / len(files) / 1e6:.0f} MB each)\n")  # fmt: skip
    print(f"{'group':<20} {'kind':<11}{'stage':<11}{'wall s':>8}{'CPU s':>8}{'peak GB':>9}"
          f"{'written GB':>11}{'disk +GB':>9}   sub-steps (s)")  # fmt: skip
    t_first = min(float(t["start_mjd"]) for t in truths)
    for truth in truths:
        gid = truth["group_id"]
        paths = {int(files[n].stem[-2:]): files[n] for n in truth["files"]}
        kind = "calibrator" if truth["index"] == 0 else "science"
        end_mjd = float(truth["start_mjd"]) + GROUP_SKY_S / 86400.0 + 1e-3
        walls: dict[str, float] = {}
        for name in (*STAGE_NAMES, "mosaic"):
            before = _tree_bytes(settings.home)
            r = _run_stage(work, preset, gid, paths, name, (t_first - 1e-3, end_mjd))
            grown = _tree_bytes(settings.home) - before
            walls[name] = r["wall"]
            subs = ", ".join(f"{k}={v:.1f}" for k, v in r["timings"].items())
            print(f"{gid:<20} {kind:<11}{name:<11}{r['wall']:>8.1f}{r['cpu']:>8.1f}"
                  f"{r['peak'] / 1e9:>9.2f}{r['written'] / 1e9:>11.2f}{grown / 1e9:>9.2f}"
                  f"   {subs}", flush=True)  # fmt: skip
        worker = sum(walls[n] for n in STAGE_NAMES)
        left = _leftovers(settings.home)
        kept = _tree_bytes(settings.products_path / gid)
        print(f"{'':<32}{'group':<11}{worker:>8.1f}   RTF = {GROUP_SKY_S:.0f} s / {worker:.0f} s "
              f"= {GROUP_SKY_S / worker:.2f} (worker stages; with the mosaic update "
              f"{GROUP_SKY_S / (worker + walls['mosaic']):.2f})")  # fmt: skip
        print(f"{'':<32}products kept {kept / 1e9:.2f} GB; temporary files left: "
              f"{', '.join(str(p.relative_to(settings.home)) for p in left) or 'none'}\n",
              flush=True)  # fmt: skip
    flux_accuracy(work, preset, truths)


def flux_accuracy(work: Path, preset: str, truths: list[dict[str, Any]]) -> None:
    """Flux of the bright compact sources in each science group's pb-corrected image
    against the simulator's truth (band-centre flux): the fitted Gaussian's integral
    and the pipeline's forced photometry (restoring-beam peak at the position).

    Bright: apparent flux >= 100 x the natural-weight noise, inside the half-power
    beam and 0.9 deg of the centre, compact (< 5") and single-component, as in
    tests/stages/test_chain_e2e.py.
    """
    import math

    import numpy as np
    from tests.stages.measure import fit_point_source, load_image

    from contimg.science.photometry import beam_from_header, forced_photometry
    from contimg.sim.sky import load_sky

    settings = _settings(work, preset)
    sky = load_sky(work / "catalogs").by_id()
    # A group simulated before the catalogs named the sources has no ids in its truth:
    # its sources are then found by their (unique, float) 1.4 GHz flux.
    by_flux = {src.flux_1400_mjy: src for src in sky.values()}
    for truth in truths[1:]:
        gid = truth["group_id"]
        pbcor = settings.products_path / gid / f"{gid}-image-pb.fits"
        noise = truth["image_noise_natural_jy"] * 1e3
        bright = []
        for t in truth["sources"]:
            src = sky.get(t["source_id"]) or by_flux.get(t["flux_1400_mjy"])
            if (
                src is not None
                and t["beam_centre_freq"] >= 0.5
                and t["sep_deg"] <= 0.9
                and t["apparent_centre_mjy"] >= 100 * noise
                and src.maj_arcsec < 5.0
                and len(src.components) == 1
            ):
                bright.append((src, t["flux_centre_mjy"]))
        if not bright:
            print(f"{gid}: no bright compact source to compare")
            continue
        data, wcs, header = load_image(pbcor)
        half = max(8, math.ceil(1.5 * float(header["BMAJ"]) / abs(float(header["CDELT2"]))))
        fit = np.array([
            fit_point_source(data, wcs, header, ra_deg=s.ra_deg, dec_deg=s.dec_deg, half=half)
            * 1e3 / f for s, f in bright
        ])  # fmt: skip
        ras, decs = [s.ra_deg for s, _ in bright], [s.dec_deg for s, _ in bright]
        ph = forced_photometry(data, wcs, beam_from_header(header), ras, decs)
        peak = np.asarray(ph.peak_jyb) * 1e3 / np.array([f for _, f in bright])
        print(f"{gid}: {len(bright)} bright compact sources (> {100 * noise:.0f} mJy apparent)")
        for name, r in (("fitted flux / truth", fit), ("forced peak / truth", peak)):
            print(f"  {name}: min {np.nanmin(r):.3f}  median {np.nanmedian(r):.3f}  "
                  f"max {np.nanmax(r):.3f}  within 5 %: {np.mean(np.abs(r - 1) < 0.05):.0%}  "
                  f"[{' '.join(f'{v:.3f}' for v in r)}]")  # fmt: skip


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


def run_bad_input(work: Path, preset: str) -> None:
    """The science group again through the real scanner, queue and worker: once with one
    subband missing (ingest policy 'proceed'), once with one file truncated to a third
    and the calibrator group queued behind it. Each bad group must end within its time
    budget, completed or failed with an error naming the file, and the queue go on."""
    import os

    from contimg.db import migrations
    from contimg.db.engine import Databases, open_database
    from contimg.db.queries import ingest as iq
    from contimg.ingest.scanner import scan_once
    from contimg.ingest.worker import Worker
    from contimg.stages.builtin import load_builtin_stages

    truths = simulate(work, preset, 2)
    src = {p.name: p for p in (work / "home" / "incoming").glob("*.hdf5")}
    cal, sci = sorted(truths[0]["files"]), sorted(truths[1]["files"])
    cases = {
        "one subband missing": (sci[1:], None),
        "one file truncated": (sci + cal, sci[5]),
    }
    registry = load_builtin_stages()
    print("\nbad input (the science group through the scanner, queue and a worker):")
    for label, (files, cut) in cases.items():
        case = work / "bad" / label.replace(" ", "-")
        shutil.rmtree(case, ignore_errors=True)
        base = _settings(case, preset)
        settings = base.model_copy(
            update={"ingest": base.ingest.model_copy(
                update={"incomplete_policy": "proceed", "settle_s": 0.5})}
        )  # fmt: skip
        for name in ("ingest", "cal_registry", "products", "master_sources"):
            db = open_database(settings, name, create_dirs=True)
            migrations.upgrade(db)
            db.dispose()
        # The calibration set solved by the chain run above, where the worker finds it.
        shutil.copytree(work / "home" / "products" / "caltables",
                        settings.products_path / "caltables")  # fmt: skip
        shutil.copy2(work / "home" / "state" / "cal_registry.sqlite3",
                     settings.state_path / "cal_registry.sqlite3")  # fmt: skip
        inc = settings.incoming_path
        inc.mkdir(parents=True, exist_ok=True)
        for n in files:
            if n == cut:
                data = src[n].read_bytes()
                (inc / n).write_bytes(data[: len(data) // 3])
            else:
                os.link(src[n], inc / n)
        print(f"  {label}: {len(files)} files" + (f", {cut} cut to a third" if cut else ""))
        dbs = Databases(settings)
        t = time.perf_counter()
        scan_once(dbs.ingest, settings, inc, finalize=True, progress=lambda _m: None)
        Worker(settings, dbs=dbs, registry=registry).run(drain=True)
        wall = time.perf_counter() - t
        with dbs.ingest.read() as conn:
            rows = iq.list_groups(conn, state=None, limit=100)
        for r in sorted(rows, key=lambda r: r["group_id"]):
            print(f"    {r['group_id']}: {r['state']} ({wall:.0f} s for the queue): "
                  f"{r['error_message'] or ''}")  # fmt: skip
        dbs.dispose()


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
    ap.add_argument(
        "--bad-input", action="store_true",
        help="Also run a group with a subband missing and one with a truncated file.",
    )  # fmt: skip
    ap.add_argument("--work", type=Path, default=None, help="Work directory (default: a temp).")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="chain_bench_"))
    try:
        if not args.skip_chain:
            run_chain(work, args.preset, args.groups)
        if args.bad_input:
            run_bad_input(work, args.preset)
        if args.full_memory:
            run_full_memory(work, args.full_times)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
