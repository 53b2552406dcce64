"""Forced photometry and incremental variability: speed figures.

Measures, in one process:

* forced photometry (rms map + interpolated-peak estimator + blend fits) of 10,000
  catalogue positions on a 2048 x 2048 image with beam-correlated noise, a rotated
  WCS and an elongated rotated beam (target < 1 s); and photutils' PSFPhotometry
  (elliptical GaussianPSF, positions and shape fixed, flux free: the same model) of
  the same sources in the same image, with the ratio. photutils is timed on a
  subset (``--photutils-n``, default 1000) and scaled linearly to 10,000 (its cost
  is per source; the scaling is printed);
* the variability update after one image of 10,000 good measurements, with 10 and
  with 1,000 epochs of history already folded in (target < 0.5 s, and flat in the
  history length): the running-sum update alone, and what the pipeline waits for,
  the stage's ``update_variability`` from BEGIN to COMMIT (read the running states,
  update them and the ESE rules, upsert ``variability_stats`` and
  ``variability_sums``) on SQLite, and on PostgreSQL with ``--database-url``.
  Several successive images are timed (best and median printed); wall and CPU time
  both, with the load average (CPU time is this process only: on PostgreSQL the
  server's share is in wall time alone).

Usage: ``nice -n 19 .venv/bin/python benchmarks/photometry_bench.py [--photutils-n N]
[--only photometry|variability] [--repeat N] [--database-url URL]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.factories.images import make_image

from contimg.science.photometry import forced_photometry, pixel_beam_covariance
from contimg.science.variability import RunningSums, hull_vertices, update_batch


def best_of(fn, repeat: int = 3) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Best (wall, CPU) seconds of ``repeat`` runs. The CPU time of this single-threaded
    code is the honest figure on a shared, loaded machine; both are printed."""
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus)


def bench_photometry(n_photutils: int) -> None:
    print("== forced photometry: 10,000 sources, 2048 x 2048 image ==")
    t0 = time.perf_counter()
    im = make_image(n_pix=2048, n_sources=10_000, seed=1, cell_arcsec=3.0)
    print(f"  (image synthesis {time.perf_counter() - t0:.1f} s)")
    res = forced_photometry(im.data, im.wcs, im.beam, im.ra_deg, im.dec_deg)
    z = (res.peak_jyb - im.true_jyb) / res.peak_err_jyb
    wall, t_ours = best_of(
        lambda: forced_photometry(im.data, im.wcs, im.beam, im.ra_deg, im.dec_deg)
    )
    print(f"  contimg forced_photometry : {t_ours:.3f} s CPU, {wall:.3f} s wall  (target < 1 s)")
    print(f"  check: std((meas-true)/err) = {np.std(z):.3f} over {z.size} sources")

    from astropy.table import Table
    from photutils.psf import GaussianPSF, PSFPhotometry

    _, _, cov = pixel_beam_covariance(im.wcs, im.beam, im.ra_deg[:1], im.dec_deg[:1])
    vals, vecs = np.linalg.eigh(cov[0])
    fwhm_major, fwhm_minor = np.sqrt(vals[::-1]) * 2.3548
    theta_deg = float(np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1])))
    psf = GaussianPSF(x_fwhm=fwhm_major, y_fwhm=fwhm_minor, theta=theta_deg)
    psf.x_0.fixed = True
    psf.y_0.fixed = True
    psf.x_fwhm.fixed = True
    psf.y_fwhm.fixed = True
    psf.theta.fixed = True
    n = min(n_photutils, res.x_pix.size)
    init = Table({"x": res.x_pix[:n], "y": res.y_pix[:n], "flux": np.ones(n)})
    box = int(2 * np.ceil(fwhm_major) + 1) | 1
    phot = PSFPhotometry(psf, fit_shape=(box, box), aperture_radius=fwhm_major)
    c0 = time.process_time()
    phot(im.data.astype(float), init_params=init)
    t_pu = (time.process_time() - c0) * (res.x_pix.size / n)
    print(
        f"  photutils PSFPhotometry   : {t_pu:.1f} s CPU for 10,000 "
        f"(timed on {n}, scaled x{res.x_pix.size / n:.0f})"
    )
    print(f"  ratio photutils / contimg : {t_pu / t_ours:.0f}x")
    bench_confusion(t_ours)


def bench_confusion(t_photometry: float) -> None:
    """The CONFUSED test on 10,000 sources of a full-array image (NVSS-like counts)."""
    from contimg.science.confusion import confused_by_brighter, default_sidelobe_level

    rng = np.random.default_rng(7)
    n = 10_000
    ra = 150.0 + rng.uniform(-1.7, 1.7, n) / np.cos(np.radians(50.0))
    dec = 50.0 + rng.uniform(-1.7, 1.7, n)
    flux = 5e-3 * rng.uniform(0.0, 1.0, n) ** (-1.0 / 1.5)  # N(>S) ~ S^-1.5 above 5 mJy
    err = rng.uniform(0.36e-3, 1.0e-3, n)  # full array, 1/pb inside the half-power radius
    beam = 25.0 / 3600.0
    level = default_sidelobe_level(96)

    def run() -> None:
        confused_by_brighter(ra, dec, flux, radius_deg=5 * beam, ratio=10.0, err=err,
                             sidelobe_level=level, sidelobe_radius_deg=25 * beam)  # fmt: skip

    wall, cpu = best_of(run)
    frac = float(np.mean(confused_by_brighter(
        ra, dec, flux, radius_deg=5 * beam, ratio=10.0, err=err, sidelobe_level=level,
        sidelobe_radius_deg=25 * beam,
    )))  # fmt: skip
    share = 100 * cpu / t_photometry
    print(f"  confusion test, 10,000     : {cpu:.3f} s CPU, {wall:.3f} s wall "
          f"({100 * frac:.1f} % flagged; {share:.0f} % of the photometry's CPU)")  # fmt: skip


def _state_with_history(rng: np.random.Generator, n_epochs: int) -> RunningSums:
    st = RunningSums()
    f = 100 + rng.normal(0, 1, n_epochs)
    s = rng.uniform(0.9, 1.1, n_epochs)
    st.extend(f, s)
    return st


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def bench_variability(database_url: str | None, repeat: int) -> None:
    print("== variability update after one image of 10,000 measurements ==")
    rng = np.random.default_rng(3)
    n_src = 10_000
    for hist in (10, 1000):
        # 500 distinct histories (built measurement by measurement), tiled to 10,000 sources
        base = [_state_with_history(rng, hist) for _ in range(500)]
        texts = [base[i % 500].to_text() for i in range(n_src)]
        hull_sizes = [len(b.hull) for b in base]
        f_new = 100 + rng.normal(0, 1, n_src)
        s_new = rng.uniform(0.9, 1.1, n_src)

        def update(texts: list[str] = texts, f: np.ndarray = f_new, s: np.ndarray = s_new) -> None:
            update_batch(texts, f, s)

        wall, cpu = best_of(update)
        print(
            f"  history {hist:>5} epochs: running-sum update alone {cpu:.3f} s CPU, "
            f"{wall:.3f} s wall (median hull size {statistics.median(hull_sizes):.0f}; {_load()})"
        )
        backends = [("SQLite", None)] + ([("PostgreSQL", database_url)] if database_url else [])
        for label, url in backends:
            walls, cpus, server = bench_variability_db(texts, url, repeat=repeat, rng=rng)
            on_server = (
                f" + {min(server):.2f} s server CPU (median {statistics.median(server):.2f})"
                if server
                else ""
            )
            print(
                f"  history {hist:>5} epochs: update with {label} I/O (read state, update, "
                f"upsert stats + sums, commit): {min(cpus):.3f} s CPU (median "
                f"{statistics.median(cpus):.3f}){on_server}, {min(walls):.3f} s wall (median "
                f"{statistics.median(walls):.3f}) over {repeat} images  (target < 0.5 s; {_load()})"
            )
    # a from-scratch recompute for comparison: cost grows with history
    f = 100 + rng.normal(0, 1, 1000)
    s = rng.uniform(0.9, 1.1, 1000)
    t0 = time.perf_counter()
    for _ in range(100):
        hull_vertices(list(zip(f, s, strict=True)))
    per = (time.perf_counter() - t0) / 100
    print(f"  (a from-scratch recompute at 1,000 epochs: ~{per * n_src:.1f} s for 10,000 sources)")


def bench_variability_db(
    texts: list[str], database_url: str | None, *, repeat: int, rng: np.random.Generator
) -> tuple[list[float], list[float], list[float]]:
    """``repeat`` successive images of 10,000 measurements folded into a products
    database whose sources already have the running states ``texts`` and statistics
    rows; each timed from BEGIN to COMMIT. Returns (wall, CPU, PostgreSQL server CPU)
    seconds per image (the last empty on SQLite, which runs in this process)."""
    import sqlalchemy as sa

    from contimg.config import get_settings
    from contimg.db.engine import Databases, open_database
    from contimg.db.migrations import upgrade
    from contimg.db.queries import variability as vq
    from contimg.science.ese import EseThresholds
    from contimg.variability.measurements import Good
    from contimg.variability.update import update_variability

    with tempfile.TemporaryDirectory() as tmp:
        settings = get_settings(home=Path(tmp), database_url=database_url)
        if database_url:
            with sa.create_engine(database_url).connect() as conn:
                conn.execute(sa.text('DROP SCHEMA IF EXISTS "products" CASCADE'))
                conn.commit()
        db = open_database(settings, "products", create_dirs=True)
        upgrade(db, to="head")
        db.dispose()
        dbs = Databases(settings)
        ids = [f"NVSS J{i:06d}" for i in range(len(texts))]
        th = EseThresholds()

        def image(mjd: float) -> list[Good]:
            f = 100 + rng.normal(0, 1, len(ids))
            s = rng.uniform(0.9, 1.1, len(ids))
            now = time.time()
            return [
                Good(sid, float(f[i]), float(s[i]), mjd, now, 10.0, 20.0, 100.0)
                for i, sid in enumerate(ids)
            ]

        with dbs.products.write() as conn:
            vq.upsert_sums_values(
                conn,
                values=[
                    (sid, t, 60000.0, 100.0, 1.0, 0.0) for sid, t in zip(ids, texts, strict=True)
                ],
            )
        with dbs.products.write() as conn:  # the statistics rows exist, as they would
            update_variability(conn, new=image(60001.0), recompute_ids=[], th=th, now=0.0)
        walls, cpus, server = [], [], []
        for k in range(repeat):
            new = image(60002.0 + k)
            t0, c0 = time.perf_counter(), time.process_time()
            with dbs.products.write() as conn:
                if database_url:  # the server process's CPU time, from /proc
                    pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                    s0 = _proc_cpu_s(pid)
                update_variability(conn, new=new, recompute_ids=[], th=th, now=time.time())
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            if database_url:
                server.append(_proc_cpu_s(pid) - s0)
        dbs.dispose()
        if database_url:
            with sa.create_engine(database_url).connect() as conn:
                conn.execute(sa.text('DROP SCHEMA IF EXISTS "products" CASCADE'))
                conn.commit()
    return walls, cpus, server


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux /proc; 10 ms resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photutils-n", type=int, default=1000)
    parser.add_argument(
        "--only", choices=("photometry", "variability"), help="run only one of the two parts"
    )
    parser.add_argument("--repeat", type=int, default=5, help="images per database timing")
    parser.add_argument(
        "--database-url",
        help="also time the update on PostgreSQL: a SCRATCH database (its 'products' "
        "schema is dropped and recreated), e.g. the URL printed by scripts/pg-test-server.sh "
        "run with CONTIMG_TEST_PG_DB=contimg_bench",
    )
    args = parser.parse_args()
    if args.only != "variability":
        bench_photometry(args.photutils_n)
    if args.only != "photometry":
        bench_variability(args.database_url, args.repeat)


if __name__ == "__main__":
    main()
