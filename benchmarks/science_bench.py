"""ESE completeness, false candidates, relative precision and pulls of the whole chain.

The expensive part runs once: a multi-day simulated survey (``ci`` preset) of one
strip of sky, every day the calibrator's transit and ``--science-groups`` science
groups of the same LST, through the real chain (``contimg sim observe`` -> ``ingest
watch`` -> ``--workers`` ``contimg worker`` processes: convert, DP3 calibration,
WSClean imaging, photometry, variability, ESE rules). Injected into the sky: ESE
dips of several depths and durations in sources of several flux densities, some
placed next to bright sources and some near the edge of the field, and bright
constant sources. Its output directory (``--out``, default
``bench-output/science``) is kept and reused while the survey's parameters match
(``--fresh`` redoes it).

The analysis part is cheap and repeatable on the stored images: it re-measures
every image with the current photometry code (image quality control, forced
photometry, normalisation, variability, ESE rules: ``contimg photometry
remeasure``), then compares the products database with the truth and prints:

* ESE completeness by depth and by SNR (and the acceptance subset: dips >= 30 %
  at SNR >= 50 lasting >= 5 epochs);
* false candidates per 1,000 constant sources per 50 epochs;
* the normalised relative precision (fractional rms of constant sources at
  SNR >= 100) per epoch;
* the pull distribution of (measured - true) / error.

    nice -n 5 .venv/bin/python benchmarks/science_bench.py            # run (once) + analyse
    .venv/bin/python benchmarks/science_bench.py --analyse-only         # analyse the kept run
    .venv/bin/python benchmarks/science_bench.py --analyse-only --no-remeasure

The settings of the re-measurement come from the environment as usual, so the
behaviour before this benchmark's fixes is measured on the same images with
``CONTIMG_PHOTOMETRY__BASELINE_MIN_EPOCHS=3 CONTIMG_PHOTOMETRY__REFERENCE_MIN_SNR=0
CONTIMG_PHOTOMETRY__SCALE_SCATTER=false CONTIMG_PHOTOMETRY__ESE_FALSE_ALARM=0
SCIENCE_BENCH_ANALYSIS_DIR=analysis-before`` (quality control stays on).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "bench-output" / "science"

# ESE grid injected into the strip: depth x duration (days = epochs) x flux (mJy).
ESE_DEPTHS = (0.2, 0.3, 0.4, 0.5)
ESE_DURATIONS_D = (3.0, 6.0, 9.0)
ESE_FLUXES_MJY = (60.0, 150.0, 400.0)
BRIGHT_NEIGHBOUR_MJY = 1500.0
BRIGHT_CONSTANT_MJY = (200.0, 300.0, 500.0, 800.0)


def survey_params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "format": "contimg-science-bench/1",
        "days": args.days,
        "science_groups": args.science_groups,
        "preset": "ci",
        "image_size_px": 4096,
        "seed": args.seed,
        "dec_deg": 49.85,
        "calibrator": "3C147",
        "ese_depths": list(ESE_DEPTHS),
        "ese_durations_d": list(ESE_DURATIONS_D),
        "ese_fluxes_mjy": list(ESE_FLUXES_MJY),
    }


def demo_options(params: dict[str, Any], workers: int) -> Any:
    from contimg.demo import DemoOptions

    return DemoOptions(
        days=int(params["days"]),
        science_groups=int(params["science_groups"]),
        workers=workers,
        pace_s=0.0,
        preset=str(params["preset"]),
        dec_deg=float(params["dec_deg"]),
        calibrator=str(params["calibrator"]),
        seed=int(params["seed"]),
        # The calibrator transits are solved, not imaged: half the chain's CPU (the
        # strip's science groups are the survey). The image is the ci preset's 4096 x 3"
        # (3.4 deg: the sources injected near the field's edge are on it).
        extra_env={
            "CONTIMG_IMAGING__CALIBRATOR_GROUPS": "false",
            "CONTIMG_IMAGING__SIZE_PX": str(params["image_size_px"]),
        },
    )


# ----------------------------------------------------------------------------- the sky


def _offset(ra: float, dec: float, dx_deg: float, dy_deg: float) -> tuple[float, float]:
    """Position ``dx`` east and ``dy`` north of (ra, dec), small-angle (tangent plane)."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    c = SkyCoord(ra * u.deg, dec * u.deg)
    sep = math.hypot(dx_deg, dy_deg)
    pa = math.degrees(math.atan2(dx_deg, dy_deg))
    o = c.directional_offset_by(pa * u.deg, sep * u.deg)
    return float(o.ra.deg), float(o.dec.deg)


def build_sky(home: Path, opts: Any) -> dict[str, Any]:
    """Simulated catalogs of the strip with the injected sources; returns the injection list."""
    from contimg.demo import plan, sky_strip
    from contimg.sim.astro import SIDEREAL_DAY_S, icrs_of_pointing
    from contimg.sim.sky import inject_source, make_sky, write_catalogs
    from contimg.sim.variability import ese
    from contimg.telescope import DSA110

    plans = plan(opts)
    per_day = len(opts.select)
    science = [p for p in plans if p.index % per_day != 0]
    first_sci = science[0]
    # Centre of the science strip (image centres of the day's science groups).
    mid = 0.5 * (science[0].start_mjd + science[opts.science_groups - 1].start_mjd)
    mid += 0.5 * DSA110.group_duration_s / 86_400.0
    ra0, dec0 = icrs_of_pointing(mid, opts.dec_deg)
    ra, dec, radius = sky_strip(opts)
    sky = make_sky(
        ra_deg=ra, dec_deg=dec, radius_deg=radius, seed=opts.seed,
        epoch_mjd=plans[0].start_mjd, span_days=float(opts.days),
    )  # fmt: skip
    rng = np.random.default_rng([opts.seed, 14])
    day = SIDEREAL_DAY_S / 86_400.0
    injected: list[dict[str, Any]] = []

    def add(kind: str, dx: float, dy: float, flux: float, lc: dict[str, Any] | None,
            clear: float = 180.0, **extra: Any) -> None:  # fmt: skip
        r, d = _offset(ra0, dec0, dx, dy)
        src = inject_source(
            sky, ra_deg=r, dec_deg=d, flux_1400_mjy=flux, variability=lc, clear_arcsec=clear
        )
        injected.append({"kind": kind, "src": src, "dx_deg": dx, "dy_deg": dy, **extra})

    def ese_lc(depth: float, dur_d: float) -> dict[str, Any]:
        # Dip centre between day 10 and day (days - 6): steady epochs before and after.
        centre_day = float(rng.uniform(10.0, max(10.5, opts.days - 6.0)))
        return ese(
            t_center_mjd=first_sci.mid_mjd + (centre_day - 1.0) * day,
            duration_s=dur_d * 86_400.0,
            depth=depth,
            edge_boost=float(rng.uniform(0.05, 0.2)),
        )

    # The ESE grid, on rings inside the primary beam (0.25-1.25 deg from the centre).
    grid = [(d, t, f) for d in ESE_DEPTHS for t in ESE_DURATIONS_D for f in ESE_FLUXES_MJY]
    pas = rng.permutation(len(grid)) * (360.0 / len(grid))
    for k, (depth, dur, flux) in enumerate(grid):
        r = 0.25 + 1.0 * ((k * 7) % len(grid)) / (len(grid) - 1)
        pa = math.radians(pas[k])
        add("ese", r * math.sin(pa), r * math.cos(pa), flux, ese_lc(depth, dur))
    # Next to bright sources: a 1.5 Jy constant source and an ESE source 2.5-4 beams away.
    for k, (dx, dy) in enumerate(((0.6, 0.9), (-0.9, 0.5), (0.8, -0.7), (-0.5, -1.0))):
        add("bright_neighbour", dx, dy, BRIGHT_NEIGHBOUR_MJY, None)
        sep = (60.0 + 15.0 * k) / 3600.0
        add("ese_near_bright", dx + sep, dy, 150.0, ese_lc(0.4, 6.0), clear=sep * 3600.0 - 5.0)
    # Near the field edge (north and south, where the image ends ~1.7 deg out).
    for k, (dx, dy) in enumerate(((0.3, 1.55), (-0.4, -1.55), (0.0, 1.62), (0.5, -1.6))):
        add("ese_near_edge", dx, dy, 400.0, ese_lc(0.4 + 0.1 * (k % 2), 9.0))
    # Bright constant sources (references and the precision statistic).
    for k in range(12):
        r = 0.3 + 0.1 * k
        pa = math.radians(30.0 * k + 7.0)
        flux = BRIGHT_CONSTANT_MJY[k % len(BRIGHT_CONSTANT_MJY)]
        add("bright_constant", r * math.sin(pa), r * math.cos(pa), flux, None)
    write_catalogs(sky, home / "catalogs")  # fills source ids
    return {
        "field_centre": [ra0, dec0],
        "injected": [
            {k: (v.source_id if k == "src" else v) for k, v in item.items()} for item in injected
        ],
    }


# ----------------------------------------------------------------------------- the run


def run_survey(out: Path, params: dict[str, Any], workers: int, timeout_s: float) -> None:
    from contimg.config import Settings
    from contimg.demo import children, contimg_argv, init_databases, plan
    from contimg.supervisor import Supervisor

    home = out / "home"
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home)
    opts = demo_options(params, workers)
    init_databases(settings)
    manifest = out / "injected.json"
    if not manifest.is_file():
        print("simulating the survey catalogs with the injected sources ...", flush=True)
        info = build_sky(home, opts)
        cat = home / "catalogs"
        subprocess.run(
            contimg_argv(
                settings, "catalog", "build", "--nvss", str(cat / "nvss.fits"),
                "--first", str(cat / "first.fits"), "--vlass", str(cat / "vlass.fits"),
            ),
            check=True,
        )  # fmt: skip
        manifest.write_text(json.dumps(info, indent=1))
    n_groups = len(plan(opts))
    kids = [k for k in children(settings, opts) if k.name not in ("mosaics", "server")]
    sup = Supervisor(kids, log_dir=home / "logs")
    t0 = time.monotonic()
    sup.start()
    print(f"running the chain: {n_groups} groups, {workers} workers (logs: {home / 'logs'})")
    last = 0.0
    try:
        while True:
            for event in sup.poll():
                print(event, flush=True)
            done, failed = _queue_counts(settings)
            if done + failed >= n_groups:
                break
            if time.monotonic() - t0 > timeout_s:
                raise SystemExit(f"timed out after {timeout_s:.0f} s: {done}/{n_groups} groups")
            if time.monotonic() - last > 60:
                print(f"{time.monotonic() - t0:7.0f} s  {done}/{n_groups} groups completed, "
                      f"{failed} failed", flush=True)  # fmt: skip
                last = time.monotonic()
            time.sleep(5.0)
    finally:
        sup.stop()
    print(f"chain finished in {time.monotonic() - t0:.0f} s: {done} completed, {failed} failed")
    (out / "survey.json").write_text(json.dumps({**params, "complete": True}, indent=1))


def _queue_counts(settings: Any) -> tuple[int, int]:
    from contimg.db.engine import Databases
    from contimg.db.queries.status import queue_stats

    dbs = Databases(settings)
    try:
        with dbs.ingest.read() as conn:
            q = queue_stats(conn)
    finally:
        dbs.dispose()
    return int(q.completed), int(q.failed)


def survey_is_complete(out: Path, params: dict[str, Any]) -> bool:
    p = out / "survey.json"
    if not p.is_file():
        return False
    stored = json.loads(p.read_text())
    return bool(stored.get("complete")) and all(stored.get(k) == v for k, v in params.items())


# ----------------------------------------------------------------------------- analysis

DERIVED_TABLES = (
    "ese_candidates", "variability_sums", "variability_stats", "photometry",
    "normalisation_baselines", "image_normalisation",
)  # fmt: skip


def remeasure(out: Path) -> Path:
    """Copy the run's databases into ``out/analysis`` and redo photometry, normalisation,
    variability and ESE flagging of every stored pb-corrected image, in time order,
    with the current code (the run's own products stay as they are)."""
    import sqlite3

    import sqlalchemy as sa

    from contimg.config import SQLITE_FILES, Settings
    from contimg.db import migrations
    from contimg.db.engine import Databases, open_database
    from contimg.photometry.image import process_image

    src_state = out / "home" / "state"
    home = out / os.environ.get("SCIENCE_BENCH_ANALYSIS_DIR", "analysis")
    if home.exists():
        shutil.rmtree(home)
    for rel in SQLITE_FILES.values():
        src, dst = src_state / rel, home / "state" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_file():
            with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
                a.backup(b)
    # The run's imaging preset (the array: it sets the confusion test's sidelobe level).
    stored = out / "survey.json"
    preset = json.loads(stored.read_text()).get("preset", "ci") if stored.is_file() else "ci"
    settings = Settings(home=home, imaging={"preset": preset})
    for name in ("products", "master_sources", "ingest", "cal_registry"):
        db = open_database(settings, name)
        migrations.upgrade(db)
        db.dispose()
    dbs = Databases(settings)
    with dbs.products.write() as conn:
        for table in (*DERIVED_TABLES, "image_qc"):
            if sa.inspect(conn).has_table(table):
                conn.execute(sa.text(f"DELETE FROM {table}"))
        rows = conn.execute(
            sa.text(
                "SELECT i.path, m.mid_mjd FROM images i JOIN ms_index m ON m.path = i.ms_path "
                "WHERE i.type = 'pbcor' ORDER BY m.mid_mjd"
            )
        ).all()
    t0 = time.perf_counter()
    for path, mid in rows:
        if not Path(path).is_file():
            print(f"  missing image {path}: skipped")
            continue
        process_image(dbs, settings, image_path=Path(path), mid_mjd=float(mid),
                      progress=lambda msg: None)  # fmt: skip
    dbs.dispose()
    print(f"re-measured {len(rows)} images in {time.perf_counter() - t0:.0f} s (code of now)")
    return home / "state" / SQLITE_FILES["products"]


def load_truth(out: Path) -> dict[str, dict[str, Any]]:
    truth = json.loads((out / "home" / "catalogs" / "sky_truth.json").read_text())
    return {s["source_id"]: s for s in truth["sources"]}


def _fmt(x: float | None, spec: str = ".1f") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def analyse(out: Path, *, remeasure_images: bool) -> dict[str, Any]:
    """Compare the products database with the truth and print the figures."""
    import sqlite3

    from contimg.science.flags import BAD_MASK
    from contimg.science.noise import MAD_TO_SIGMA
    from contimg.sim.variability import flux_factor

    run_dir = out
    db_path = remeasure(out) if remeasure_images else out / "home/state/products.sqlite3"
    truth = load_truth(out)
    con = sqlite3.connect(db_path)
    has_qc = bool(
        con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='image_qc'").fetchone()
    )
    qc_bad: set[str] = set()
    if has_qc:
        qc_bad = {r[0] for r in con.execute("SELECT image_path FROM image_qc WHERE status != 'ok'")}
    images = [r[0] for r in con.execute(
        "SELECT i.path FROM images i JOIN ms_index m ON m.path = i.ms_path "
        "WHERE i.type='pbcor' ORDER BY m.mid_mjd")]  # fmt: skip
    epoch_of = {p: k for k, p in enumerate(images)}
    rows = con.execute(
        "SELECT source_id, image_path, mjd, peak_jyb, peak_err_jyb,"
        " raw_peak_jyb / raw_peak_err_jyb, flags FROM photometry"
    ).fetchall()
    cands = con.execute(
        "SELECT source_id, flag_type, significance, reason FROM ese_candidates"
        " WHERE flagged_by='auto'"
    ).fetchall()
    con.close()
    flagged: dict[str, list[str]] = {}
    why: dict[str, list[str]] = {}  # per source: each flag's rule, significance and threshold
    for sid, ftype, sig, reason in cands:
        flagged.setdefault(sid, []).append(ftype)
        r = json.loads(reason) if reason else {}
        why.setdefault(sid, []).append(
            f"{ftype} {float(sig):.2f} vs {float(r.get('threshold', float('nan'))):.2f} "
            f"at n_obs {r.get('n_obs', '?')}"
        )
    # Good measurements per source (the ones the statistics use); the SNR is the
    # thermal one (raw peak / raw error: before the flux-scale terms of the error).
    lc: dict[str, list[tuple[float, float, float, float, int]]] = {}
    confused = {sid for sid, _i, _m, _f, _e, _s, flags in rows if int(flags or 0) & 128}
    for sid, img, mjd, f, e, snr, flags in rows:
        if (int(flags or 0) & BAD_MASK) or not e or e <= 0 or img in qc_bad:
            continue
        lc.setdefault(sid, []).append(
            (float(mjd), 1e3 * f, 1e3 * e, float(snr or 0.0), epoch_of[img])
        )
    n_epochs = len(images)
    print(
        f"\n{n_epochs} images (epochs); {len(qc_bad)} rejected by quality control; "
        f"{len(lc)} sources with good measurements ({len(confused)} flagged CONFUSED in some "
        f"image); {len(cands)} automatic candidates"
    )

    kinds: dict[str, str] = {}
    for sid in lc:
        t = truth.get(sid)
        if t is None:
            kinds[sid] = "unknown"
        elif t.get("calibrator"):
            kinds[sid] = "calibrator"
        else:
            kinds[sid] = str(t["variability"].get("kind", "constant"))

    # --- pulls: (measured - k T) / err with k the source's own scale (relative photometry)
    pulls: list[float] = []
    pull_snr: list[float] = []
    for sid, pts in lc.items():
        if kinds[sid] not in ("constant", "ese", "flare", "drop") or len(pts) < 5:
            continue
        mjd = np.array([p[0] for p in pts])
        f = np.array([p[1] for p in pts])
        s = np.array([p[2] for p in pts])
        tf = flux_factor(truth[sid]["variability"], mjd)
        w = 1.0 / s**2
        k = float(np.sum(w * f * tf) / np.sum(w * tf * tf))
        n = len(pts)
        pulls.extend(((f - k * tf) / s * math.sqrt(n / (n - 1))).tolist())
        pull_snr.extend([p[3] for p in pts])
    pull = np.array(pulls)
    psnr = np.array(pull_snr)

    # --- ESE completeness
    ese_rows = []
    for sid, pts in lc.items():
        if kinds[sid] != "ese":
            continue
        var = truth[sid]["variability"]
        depth = float(var["depth"])
        mjd = np.array([p[0] for p in pts])
        tf = flux_factor(var, mjd)
        in_dip = int(np.sum(tf < 1.0 - 0.5 * depth))
        out = tf > 1.0 - 0.1 * depth
        snr = float(np.median([p[3] for p, o in zip(pts, out, strict=True) if o] or [0.0]))
        ese_rows.append({
            "source_id": sid, "depth": depth, "snr": snr, "dip_epochs": in_dip,
            "n_good": len(pts), "found": sid in flagged, "flags": flagged.get(sid, []),
        })  # fmt: skip

    def completeness(sel: list[dict[str, Any]]) -> str:
        if not sel:
            return "   -   (0)"
        k = sum(r["found"] for r in sel)
        return f"{100.0 * k / len(sel):5.1f} % ({k}/{len(sel)})"

    observed = [r for r in ese_rows if r["dip_epochs"] >= 1]
    print("\nESE completeness (sources whose dip was observed in >= 1 good epoch)")
    print(f"{'depth':<12}{'all':>16}{'dip >= 5 epochs':>20}")
    for lo, hi in ((0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.6)):
        sel = [r for r in observed if lo <= r["depth"] < hi]
        long = [r for r in sel if r["dip_epochs"] >= 5]
        print(f"{lo:.1f}-{hi:.1f}{'':<5}{completeness(sel):>16}{completeness(long):>20}")
    print(f"{'SNR':<12}{'all':>16}{'depth >= 0.3':>20}")
    for lo, hi in ((0, 20), (20, 50), (50, 100), (100, 1e9)):
        sel = [r for r in observed if lo <= r["snr"] < hi]
        deep = [r for r in sel if r["depth"] >= 0.3]
        label = f"{lo:g}-{hi:g}" if hi < 1e8 else f">= {lo:g}"
        print(f"{label:<12}{completeness(sel):>16}{completeness(deep):>20}")
    target = [r for r in observed if r["depth"] >= 0.3 and r["snr"] >= 50 and r["dip_epochs"] >= 5]
    print(f"acceptance subset (depth >= 30 %, SNR >= 50, >= 5 epochs in the dip): "
          f"{completeness(target)}   [target >= 95 %]")  # fmt: skip
    missed = [r for r in target if not r["found"]]
    for r in missed:
        print(f"  missed: {r['source_id']} depth {r['depth']:.2f} SNR {r['snr']:.0f} "
              f"dip epochs {r['dip_epochs']} good epochs {r['n_good']}")  # fmt: skip

    # --- false candidates on constant sources
    const = [sid for sid in lc if kinds[sid] == "constant"]
    const_epochs = sum(len(lc[sid]) for sid in const)
    false = [sid for sid in const if sid in flagged]
    rate = len(false) * 1000.0 * 50.0 / const_epochs if const_epochs else float("nan")
    print(f"\nfalse candidates: {len(false)} of {len(const)} constant sources "
          f"({const_epochs} good source-epochs) = {rate:.2f} per 1,000 sources x 50 epochs   "
          f"[target <= 1]")  # fmt: skip
    if const_epochs:
        # Poisson: k observed -> 95 % upper limit (k = 0: 3.0, 1: 4.74, 2: 6.30, 3: 7.75)
        n_false = len(false)
        upper = {0: 3.0, 1: 4.74, 2: 6.30, 3: 7.75}.get(n_false, n_false + 2 * n_false**0.5)
        print(f"  95 % upper limit: {upper * 1000.0 * 50.0 / const_epochs:.1f} per 1,000 x 50 "
              f"(the run covers {const_epochs / 50_000:.3f} of that unit)")  # fmt: skip
    for sid in false:
        pts = lc[sid]
        print(f"  {sid}: {'; '.join(why[sid])}; {len(pts)} epochs, median SNR "
              f"{np.median([p[3] for p in pts]):.0f}")  # fmt: skip

    # --- the injected sources, by kind
    manifest = run_dir / "injected.json"
    if manifest.is_file():
        print("\ninjected sources: kind, automatic candidates, >= 5 good epochs, CONFUSED")
        by_kind: dict[str, list[int]] = {}
        for item in json.loads(manifest.read_text())["injected"]:
            k = by_kind.setdefault(str(item["kind"]), [0, 0, 0, 0])
            sid = str(item["src"])
            k[0] += 1
            k[1] += sid in flagged
            k[2] += len(lc.get(sid, [])) >= 5
            k[3] += sid in confused
        for kind, (n, found, measured, conf) in by_kind.items():
            print(f"  {kind:<18} {n:3d}: {found:3d} candidates, {measured:3d} measured, "
                  f"{conf:3d} confused")  # fmt: skip

    # --- relative precision of bright constant sources
    bright = [
        sid for sid in const if len(lc[sid]) >= 5 and np.median([p[3] for p in lc[sid]]) >= 100
    ]
    frac_rms = []
    per_epoch: dict[int, list[float]] = {}
    for sid in bright:
        f = np.array([p[1] for p in lc[sid]])
        mean = float(np.mean(f))
        frac_rms.append(float(np.std(f, ddof=1) / mean))
        for p in lc[sid]:
            per_epoch.setdefault(p[4], []).append(p[1] / mean - 1.0)
    med_rms = 100 * float(np.median(frac_rms)) if frac_rms else float("nan")
    p90_rms = 100 * float(np.percentile(frac_rms, 90)) if frac_rms else float("nan")
    print(f"\nrelative precision: {len(bright)} constant sources at SNR >= 100: median "
          f"fractional rms {med_rms:.2f} % (90th percentile {p90_rms:.2f} %)"
          f"   [target <= 1 %]")  # fmt: skip
    line = []
    for k in sorted(per_epoch):
        d = np.array(per_epoch[k])
        line.append(f"{k + 1}:{100 * np.sqrt(np.mean(d**2)):.2f}")
    print("  per epoch (epoch:rms %): " + " ".join(line))

    # --- pulls
    if pull.size:
        mad = MAD_TO_SIGMA * float(np.median(np.abs(pull - np.median(pull))))
        print(f"\npulls (measured - k x true light curve) / error: {pull.size} measurements; "
              f"mean {pull.mean():+.3f}, std {pull.std():.3f} [target 1.00 +- 0.05], robust std "
              f"{mad:.3f}; |pull| > 3: {100 * np.mean(np.abs(pull) > 3):.2f} % (Gaussian 0.27 %), "
              f"> 5: {int(np.sum(np.abs(pull) > 5))}")  # fmt: skip
        for lo, hi in ((0, 10), (10, 30), (30, 100), (100, 300), (300, 1e9)):
            sel = pull[(psnr >= lo) & (psnr < hi)]
            if sel.size:
                print(f"  SNR {lo:g}-{hi:g}: {sel.size} measurements, std {sel.std():.3f}, "
                      f"mean {sel.mean():+.3f}")  # fmt: skip
    return {
        "epochs": n_epochs,
        "ese": ese_rows,
        "false": false,
        "rate": rate,
        "precision": frac_rms,
        "pulls": pull,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--days", type=int, default=36, help="Epochs (sidereal days) of the strip.")
    ap.add_argument(
        "--science-groups", type=int, default=2,
        help="Science groups a day (adjacent pointings of the strip, after the calibrator's).",
    )  # fmt: skip
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout-s", type=float, default=6 * 3600.0)
    ap.add_argument("--fresh", action="store_true", help="Redo the simulation and the chain.")
    ap.add_argument("--analyse-only", action="store_true", help="Only analyse the kept run.")
    ap.add_argument("--run-only", action="store_true", help="Only run the survey.")
    ap.add_argument(
        "--no-remeasure", action="store_true",
        help="Analyse the chain's own photometry (do not re-measure the stored images).",
    )  # fmt: skip
    args = ap.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    params = survey_params(args)
    out: Path = args.out
    if not args.analyse_only:
        if args.fresh and out.exists():
            shutil.rmtree(out)
        if survey_is_complete(out, params):
            print(f"reusing the survey in {out} (same parameters; --fresh redoes it)")
        else:
            stored = out / "survey.json"
            if stored.is_file() and json.loads(stored.read_text()).get("complete"):
                raise SystemExit(f"{out} holds a survey with other parameters: use --fresh")
            run_survey(out, params, args.workers, args.timeout_s)
    if not args.run_only:
        analyse(out, remeasure_images=not args.no_remeasure)


if __name__ == "__main__":
    main()
