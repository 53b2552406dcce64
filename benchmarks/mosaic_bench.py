"""Mosaic build time and peak memory for an hour (12) and a day (288) of images.

Writes ``demo``-preset-sized primary-beam-corrected images (the imaging stage's
``demo`` grid, ``contimg.imaging.wsclean.PRESET_GRID["demo"]``; WSClean 4-axis FITS on
SIN grids) at
consecutive DSA-110 drift-scan pointings (Dec 54.57, 309 s apart, so a day
wraps all the way round in RA), with beam-correlated noise and point sources,
plus their ``ms_index``/``images`` rows in a SQLite deployment. Then, each in a
fresh child process (so each peak is its own), builds the mosaic of the first
N images for every N asked, and prints:

* wall time, CPU time (the machine is shared: CPU time is the steadier figure),
  wall time per input image, and peak resident memory of the child;
* baselines measured in this process: the cost of resampling ONE input onto its
  part of the grid (time ratio = build / (N x that)), and the resident memory
  of a child that only imports the libraries (memory above it is the build's);
* what holding every input in memory would take (N x one float64 plane) and the
  size of the output grid's running sums, to show memory follows the output
  grid, not the number of inputs.

Usage: ``.venv/bin/python benchmarks/mosaic_bench.py [--images 12,288] [--workdir DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.utils import iers

iers.conf.auto_download = False

REPO = Path(__file__).resolve().parents[1]
START_MJD = 61000.0
DAY_S = 86_400.0


def _child(code: str) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter; it prints one JSON line; add its peak RSS."""
    script = (
        "import json, resource, sys\n" + code + "\nru = resource.getrusage(resource.RUSAGE_SELF)\n"
        "out['peak_rss_mb'] = ru.ru_maxrss / 1024\n"
        "out['cpu_s'] = ru.ru_utime + ru.ru_stime\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def make_inputs(workdir: Path, n_images: int) -> Path:
    """Write the images and a SQLite deployment under ``workdir``; return the home."""
    sys.path.insert(0, str(REPO))
    from tests.conftest import init_databases
    from tests.factories import mosaic as synth

    from contimg.config import get_settings
    from contimg.imaging.wsclean import PRESET_GRID

    home = workdir / "home"
    if (workdir / "ready.json").exists():
        ready = json.loads((workdir / "ready.json").read_text())
        if ready.get("n_images", 0) >= n_images:
            return home
    size_px, cell_arcsec = PRESET_GRID["demo"]
    cfg = synth.SynthConfig(
        n_px=size_px,
        cell_arcsec=cell_arcsec,
        beam_major_arcsec=150.0,
        beam_minor_arcsec=75.0,
        beam_pa_deg=110.0,
        rms_jy=0.6e-3,
    )
    settings = get_settings(home=home)
    dbs = init_databases(settings)
    rng = np.random.default_rng(42)
    n_src = 2000
    sources = [
        synth.Source(float(ra), float(dec), float(f))
        for ra, dec, f in zip(
            rng.uniform(0, 360, n_src),
            rng.uniform(52.6, 56.5, n_src),
            10 ** rng.uniform(-2.3, -0.5, n_src),
            strict=True,
        )
    ]
    t0 = time.perf_counter()
    for k in range(n_images):
        start = START_MJD + k * synth.GROUP_S / DAY_S
        groups = synth.drift_groups(
            workdir / "images",
            start_mjd=start,
            n_groups=1,
            ra0_deg=synth.pointing_ra(10.0, k),
            sources=sources,
            seed=1000 + k,
            cfg=cfg,
        )
        with dbs.products.write() as conn:
            synth.record_groups(conn, groups)
        if (k + 1) % 24 == 0:
            print(f"  wrote {k + 1}/{n_images} images ({time.perf_counter() - t0:.0f} s)")
    dbs.dispose()
    (workdir / "ready.json").write_text(json.dumps({"n_images": n_images}))
    return home


def build_in_child(home: Path, n: int) -> dict[str, float]:
    from contimg.telescope import DSA110

    end = START_MJD + n * DSA110.group_duration_s / DAY_S  # the first n mid-times
    code = f"""
import time
from astropy.utils import iers
iers.conf.auto_download = False
from contimg.config import get_settings
from contimg.db.engine import Databases
from contimg.mosaic.builder import build_mosaic
s = get_settings(home={str(home)!r})
dbs = Databases(s)
t = time.perf_counter()
r = build_mosaic(s, dbs, start_mjd={START_MJD!r}, end_mjd={end!r}, name="bench-{n}", replace=True,
                 progress=lambda m: None)
out = dict(wall_s=time.perf_counter() - t, n_images=r.row["n_images"],
           noise_mjy=r.row["noise_jy"] * 1e3, n_sources=r.row["n_sources"],
           **{{k: v for k, v in r.timings_s.items()}})
from astropy.io import fits
h = fits.getheader(r.row["path"])
out["grid_px"] = h["NAXIS1"] * h["NAXIS2"]
out["grid_x"] = h["NAXIS1"]
out["grid_y"] = h["NAXIS2"]
"""
    return _child(code)


def one_input_baseline(home: Path) -> float:
    """Seconds to read one input and resample it onto its grid box, its beam plane already
    cached (as it is for every input after the first in a build), in this process."""
    from contimg.config import get_settings
    from contimg.db.engine import Databases
    from contimg.db.queries import mosaics as q
    from contimg.mosaic.builder import BeamPlanes, resample_onto
    from contimg.mosaic.inputs import read_input
    from contimg.science import mosaic as mm

    settings = get_settings(home=home)
    dbs = Databases(settings)
    with dbs.products.read() as conn:
        inputs = q.select_input_images(conn, start_mjd=START_MJD, end_mjd=START_MJD + 0.01)
    dbs.dispose()
    img = inputs[0]
    data, geometry = read_input(Path(img.path))
    foot = mm.footprint_points(geometry.wcs, geometry.shape)
    grid = mm.common_grid([foot], cell_deg=float(abs(geometry.wcs.wcs.cdelt[1])))
    beams = BeamPlanes()
    beams.plane(img, geometry)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        data, geometry = read_input(Path(img.path))
        pb = beams.plane(img, geometry)
        for box in grid.boxes_for(*foot):
            resample_onto(data, pb, geometry, grid, box, pb_min=0.2)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", default="12,288", help="Comma-separated input counts.")
    parser.add_argument("--workdir", type=Path, default=None, help="Keep inputs here (reused).")
    args = parser.parse_args()
    counts = sorted(int(n) for n in args.images.split(","))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mosaic_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"inputs in {workdir}")
    home = make_inputs(workdir, max(counts))

    idle = _child(
        "import numpy, scipy, astropy.io.fits, astropy.wcs, reproject, PIL\n"
        "import contimg.mosaic.builder\nout = {}"
    )["peak_rss_mb"]
    per_image_s = one_input_baseline(home)
    from contimg.imaging.wsclean import PRESET_GRID

    size_px = PRESET_GRID["demo"][0]
    plane_mb = size_px * size_px * 8 / 2**20
    print(
        f"baseline: one input read + resample (beam cached) {per_image_s:.3f} s; "
        f"idle child (imports) {idle:.0f} MB"
    )
    print(
        f"{'N':>5} {'grid':>14} {'wall s':>8} {'cpu s':>7} {'s/image':>8} {'x baseline':>10} "
        f"{'peak MB':>8} {'above idle':>10} {'all inputs MB':>13} {'sums MB':>8} "
        f"{'noise mJy':>9} {'sources':>7}"
    )
    for n in counts:
        r = build_in_child(home, n)
        sums_mb = r["grid_px"] * 8 / 2**20
        print(
            f"{n:>5} {int(r['grid_x']):>7}x{int(r['grid_y']):<6} {r['wall_s']:>8.1f} "
            f"{r['cpu_s']:>7.1f} "
            f"{r['wall_s'] / n:>8.3f} {r['wall_s'] / (n * per_image_s):>10.2f} "
            f"{r['peak_rss_mb']:>8.0f} {r['peak_rss_mb'] - idle:>10.0f} "
            f"{n * plane_mb:>13.0f} {sums_mb:>8.0f} {r['noise_mjy']:>9.3f} "
            f"{int(r['n_sources']):>7}"
        )
    print(
        "peak memory = libraries + running sums of the output grid (8 B/px) + one input "
        "and its resampled box; it does not grow with the number of inputs held."
    )


if __name__ == "__main__":
    main()
