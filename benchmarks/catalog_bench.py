"""Master catalog at NVSS scale: build time and cone-search latency.

Writes a synthetic NVSS-sized catalogue (1.8 million sources over Dec > -40 deg)
with a FIRST-sized (~946,000 rows over Dec -10..+65) and a VLASS-sized (~3.4
million components over Dec > -40) partner file in the published layouts,
then measures, in one process:

* the build (read, crossmatch, load, index, install) onto an empty state dir,
  and a rebuild over the live catalog (the atomic swap path);
* the median latency of a 1.75 deg cone search (one DSA-110 image) over random
  centres, and the same cone done by brute force with astropy
  (``SkyCoord.separation`` over the whole catalog, positions already in
  memory), with the ratio;
* the adoption of a spec-made catalog of the same sources (spec DDL, bulk insert
  with plain sqlite3, then ``contimg db upgrade``, which indexes it), and the cone
  latency on it;
* the same on PostgreSQL (q3c) when CONTIMG_TEST_PG_URL is set.

Usage: ``.venv/bin/python benchmarks/catalog_bench.py [--n-nvss N] [--cones K]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.utils import iers

from contimg.catalog.build import BuildInputs, build_catalog
from contimg.catalog.cone import cone_search
from contimg.catalog.readers import iau_names
from contimg.config import Settings, get_settings
from contimg.db.engine import open_database

iers.conf.auto_download = False

CONE_RADIUS_DEG = 1.75


def _sky(
    rng: np.random.Generator, n: int, dec_min: float, dec_max: float
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` positions uniform on the sphere between two declinations (deg)."""
    z = rng.uniform(np.sin(np.deg2rad(dec_min)), np.sin(np.deg2rad(dec_max)), n)
    return rng.uniform(0.0, 360.0, n), np.rad2deg(np.arcsin(z))


def _near(
    rng: np.random.Generator, ra: np.ndarray, dec: np.ndarray, sigma_arcsec: float
) -> tuple[np.ndarray, np.ndarray]:
    """Positions scattered around (ra, dec) by a Gaussian of ``sigma_arcsec`` per axis."""
    d_dec = rng.normal(0.0, sigma_arcsec / 3600.0, ra.size)
    d_ra = rng.normal(0.0, sigma_arcsec / 3600.0, ra.size) / np.cos(np.deg2rad(dec))
    return np.mod(ra + d_ra, 360.0), np.clip(dec + d_dec, -90.0, 90.0)


def write_inputs(out: Path, n_nvss: int, seed: int = 1) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    ra, dec = _sky(rng, n_nvss, -40.0, 90.0)
    flux = 2.5 * (1.0 + rng.pareto(1.5, n_nvss))  # mJy, NVSS-like counts above 2.5 mJy
    err = np.sqrt(0.45**2 + (0.03 * flux) ** 2)
    nvss = Table()
    nvss["NVSS"] = iau_names(ra, dec)
    nvss["RAJ2000"] = ra * u.deg
    nvss["DEJ2000"] = dec * u.deg
    nvss["S1.4"] = flux * u.mJy
    nvss["e_S1.4"] = err * u.mJy
    nvss["MajAxis"] = np.full(n_nvss, 45.0) * u.arcsec
    nvss["MinAxis"] = np.full(n_nvss, 45.0) * u.arcsec
    nvss["PA"] = np.zeros(n_nvss) * u.deg

    # FIRST: partners of NVSS sources in its footprint plus fainter field sources.
    n_first = round(946_432 * n_nvss / 1_800_000)
    in_fp = np.flatnonzero((dec > -10.0) & (dec < 65.0))
    partners = rng.choice(in_fp, size=min(in_fp.size, n_first // 2), replace=False)
    f_ra, f_dec = _near(rng, ra[partners], dec[partners], 1.5)
    o_ra, o_dec = _sky(rng, n_first - partners.size, -10.0, 65.0)
    f_ra, f_dec = np.concatenate([f_ra, o_ra]), np.concatenate([f_dec, o_dec])
    nf = f_ra.size
    maj = np.where(rng.random(nf) < 0.3, rng.uniform(0.0, 15.0, nf), 0.0)
    first = Table()
    first["FIRST"] = np.array(["J"] * nf)
    first["RAJ2000"] = f_ra * u.deg
    first["DEJ2000"] = f_dec * u.deg
    first["Fpeak"] = rng.uniform(1.0, 100.0, nf) * u.Unit("mJy/beam")
    first["Fint"] = rng.uniform(1.0, 100.0, nf) * u.mJy
    first["Rms"] = np.full(nf, 0.15) * u.Unit("mJy/beam")
    first["Maj"] = maj * u.arcsec
    first["Min"] = maj * 0.6 * u.arcsec
    first["PA"] = rng.uniform(0.0, 180.0, nf) * u.deg
    first["fMaj"] = (maj + 5.4) * u.arcsec
    first["fMin"] = (maj * 0.6 + 5.4) * u.arcsec
    first["fPA"] = first["PA"]

    # VLASS: a partner for most NVSS sources, the rest fainter field components.
    n_vlass = round(3_381_277 * n_nvss / 1_800_000)
    vp = rng.choice(n_nvss, size=int(0.8 * n_nvss), replace=False)
    v_ra, v_dec = _near(rng, ra[vp], dec[vp], 1.0)
    v_flux = flux[vp] * (3.0 / 1.4) ** rng.normal(-0.7, 0.3, vp.size)
    o_ra, o_dec = _sky(rng, n_vlass - vp.size, -40.0, 90.0)
    v_ra, v_dec = np.concatenate([v_ra, o_ra]), np.concatenate([v_dec, o_dec])
    v_flux = np.concatenate([v_flux, rng.uniform(0.5, 3.0, o_ra.size)])
    nv = v_ra.size
    vlass = Table()
    vlass["Component_name"] = np.array(["VLASS1QLCIR"] * nv)
    vlass["RA"] = v_ra * u.deg
    vlass["DEC"] = v_dec * u.deg
    vlass["Total_flux"] = v_flux * u.mJy
    vlass["E_Total_flux"] = np.full(nv, 0.2) * u.mJy
    vlass["Peak_flux"] = v_flux * 0.9 * u.Unit("mJy/beam")
    vlass["E_Peak_flux"] = np.full(nv, 0.14) * u.Unit("mJy/beam")
    vlass["Maj"] = np.full(nv, 2.8) * u.arcsec
    vlass["Min"] = np.full(nv, 2.2) * u.arcsec
    vlass["PA"] = rng.uniform(0.0, 180.0, nv) * u.deg

    paths = {"nvss": out / "nvss.fits", "first": out / "first.fits", "vlass": out / "vlass.fits"}
    for name, table in (("nvss", nvss), ("first", first), ("vlass", vlass)):
        table.write(paths[name], format="fits", overwrite=True)
    return paths


def _build(settings: Settings, paths: dict[str, Path]) -> tuple[float, float, dict[str, float]]:
    """Wall and CPU time (s) of one build, and its per-step wall times."""
    t0, c0 = time.perf_counter(), time.process_time()
    report = build_catalog(settings, BuildInputs(paths["nvss"], paths["first"], paths["vlass"]))
    return time.perf_counter() - t0, time.process_time() - c0, report.step_s


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} CPUs"


def _cone_times(settings: Settings, centres: np.ndarray) -> tuple[float, float, float]:
    """Median wall time, median CPU time (s) and median number of sources of the cones."""
    db = open_database(settings, "master_sources")
    try:
        for ra, dec in centres[:5]:  # warm the page cache and the statement cache
            cone_search(db, ra_deg=ra, dec_deg=dec, radius_deg=CONE_RADIUS_DEG)
        times, cpu, counts = [], [], []
        for ra, dec in centres:
            t0, c0 = time.perf_counter(), time.process_time()
            hits = cone_search(db, ra_deg=ra, dec_deg=dec, radius_deg=CONE_RADIUS_DEG)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            counts.append(len(hits))
    finally:
        db.dispose()
    return statistics.median(times), statistics.median(cpu), statistics.median(counts)


def _check_overhead(settings: Settings, n: int = 500) -> float:
    """Median wall time (s) of the cone index check every SQLite search makes (trigger
    names, pending probe), inside an open read transaction as in a search."""
    from contimg.catalog.cone import _pending_or_refuse

    db = open_database(settings, "master_sources")
    times = []
    try:
        with db.read() as conn:
            for _ in range(n):
                t0 = time.perf_counter()
                _pending_or_refuse(db, conn)
                times.append(time.perf_counter() - t0)
    finally:
        db.dispose()
    return statistics.median(times)


def _brute_force(settings: Settings, centres: np.ndarray, n: int) -> float:
    db = open_database(settings, "master_sources")
    from contimg.db.queries.sources import all_positions

    with db.read() as conn:
        pos = all_positions(conn)
    db.dispose()
    coords = SkyCoord(np.array([p[1] for p in pos]) * u.deg, np.array([p[2] for p in pos]) * u.deg)
    times = []
    for ra, dec in centres[:n]:
        t0 = time.perf_counter()
        sep = coords.separation(SkyCoord(ra * u.deg, dec * u.deg))
        _ = np.flatnonzero(sep < CONE_RADIUS_DEG * u.deg)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _adoption(
    built: Settings, home: Path, centres: np.ndarray
) -> tuple[float, float, float, float]:
    """A user's spec-made catalog: the spec's DDL (tests/data/spec_ddl.json, a copy of
    the spec's SQL), the built catalog's sources bulk-inserted with plain sqlite3,
    then ``contimg db upgrade`` (adoption + the cone index). Returns bulk-insert and
    upgrade wall times (s) and the median cone time (s) and size on the result; the
    cones' answers are checked equal to the built catalog's."""
    import json
    import sqlite3
    import subprocess

    settings = get_settings(home=home)
    path = settings.sqlite_path("master_sources")
    path.parent.mkdir(parents=True, exist_ok=True)
    ddl = json.loads(
        (Path(__file__).resolve().parents[1] / "tests" / "data" / "spec_ddl.json").read_text()
    )["master_sources"]
    t0 = time.perf_counter()
    con = sqlite3.connect(path)
    con.executescript(ddl)
    con.execute("ATTACH DATABASE ? AS built", (str(built.sqlite_path("master_sources")),))
    con.execute("INSERT INTO main.sources SELECT * FROM built.sources")
    con.commit()
    con.execute("DETACH DATABASE built")
    con.close()
    t_bulk = time.perf_counter() - t0
    t0 = time.perf_counter()
    exe = Path(sys.executable).with_name("contimg")
    subprocess.run(
        [str(exe), "--home", str(home), "db", "upgrade", "--db", "master_sources"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    t_adopt = time.perf_counter() - t0
    a, b = open_database(settings, "master_sources"), open_database(built, "master_sources")
    try:
        for ra, dec in centres[:20]:
            ids_a = sorted(
                h.source_id
                for h in cone_search(a, ra_deg=ra, dec_deg=dec, radius_deg=CONE_RADIUS_DEG)
            )
            ids_b = sorted(
                h.source_id
                for h in cone_search(b, ra_deg=ra, dec_deg=dec, radius_deg=CONE_RADIUS_DEG)
            )
            if ids_a != ids_b:
                raise SystemExit(f"adopted catalog answers differently at {ra}, {dec}")
    finally:
        a.dispose()
        b.dispose()
    t_cone, _, n_med = _cone_times(settings, centres)
    return t_bulk, t_adopt, t_cone, n_med


def _pg_settings(home: Path) -> tuple[Settings, str, str] | None:
    base = os.environ.get("CONTIMG_TEST_PG_URL")
    if not base:
        return None
    name = f"contimg_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    return get_settings(home=home, database_url=url), base, name


def _drop_pg(base: str, name: str) -> None:
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-nvss", type=int, default=1_800_000)
    parser.add_argument("--cones", type=int, default=200)
    parser.add_argument("--brute", type=int, default=10, help="brute-force repetitions")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument(
        "--no-rebuild", action="store_true", help="build once per backend (skip the swap run)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keep the synthetic survey files here and reuse them on the next run",
    )
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    ra_c, dec_c = _sky(rng, args.cones, -38.0, 88.0)
    # Always include the seam and a pole among the centres.
    centres = np.column_stack([ra_c, dec_c])
    centres[:3] = [[0.3, 10.0], [359.8, -20.0], [123.0, 89.5]]

    with tempfile.TemporaryDirectory(prefix="catalog-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        data = args.data_dir or root
        data.mkdir(parents=True, exist_ok=True)
        paths = {k: data / f"{k}.fits" for k in ("nvss", "first", "vlass")}
        if not all(p.exists() for p in paths.values()) or (
            len(Table.read(paths["nvss"], memmap=True)) != args.n_nvss
        ):
            paths = write_inputs(data, args.n_nvss)
        rows = {k: len(Table.read(p, memmap=True)) for k, p in paths.items()}
        print(
            f"inputs: NVSS {rows['nvss']:,}  FIRST {rows['first']:,}  VLASS {rows['vlass']:,} rows "
            f"(FITS, ready in {time.perf_counter() - t0:.1f} s)"
        )

        sq = get_settings(home=root / "sqlite")
        t_build, c_build, steps = _build(sq, paths)
        print(f"SQLite build (empty state dir):   {t_build:7.1f} s wall, {c_build:6.1f} s CPU")
        print(f"    steps {steps}; {_load()}")
        t_rebuild, c_rebuild = t_build, c_build
        if not args.no_rebuild:
            t_rebuild, c_rebuild, steps = _build(sq, paths)
            print(
                f"SQLite rebuild (swap over live):  {t_rebuild:7.1f} s wall, {c_rebuild:6.1f} s CPU"
            )
            print(f"    steps {steps}; {_load()}")
        size_mb = sq.sqlite_path("master_sources").stat().st_size / 1e6
        print(f"SQLite file: {size_mb:,.0f} MB")
        t_cone, c_cone, n_med = _cone_times(sq, centres)
        t_check = _check_overhead(sq)
        t_brute = _brute_force(sq, centres, args.brute)
        print(
            f"SQLite cone r={CONE_RADIUS_DEG} deg: median {t_cone * 1e3:6.2f} ms wall "
            f"({c_cone * 1e3:.2f} ms CPU) over "
            f"{len(centres)} cones (median {n_med:.0f} sources); {_load()}"
        )
        print(
            f"    of which the cone index check (triggers present, pending rows): median "
            f"{t_check * 1e6:.0f} us"
        )
        print(
            f"brute force (astropy SkyCoord.separation over {rows['nvss']:,} sources): median "
            f"{t_brute * 1e3:7.1f} ms  -> cone search is {t_brute / t_cone:,.0f}x faster"
        )
        print(
            f"targets: build < 120 s wall: {'met' if max(t_build, t_rebuild) < 120 else 'MISSED'} "
            f"(CPU {max(c_build, c_rebuild):.0f} s); "
            f"cone < 5 ms median: {'met' if t_cone < 5e-3 else 'MISSED'}"
        )

        t_bulk, t_adopt, t_cone_a, n_med_a = _adoption(sq, root / "adopted", centres)
        print(
            f"adoption of a spec-made catalog ({rows['nvss']:,} sources, spec DDL + bulk insert "
            f"{t_bulk:.1f} s): 'db upgrade' {t_adopt:7.1f} s wall; then cone median "
            f"{t_cone_a * 1e3:.2f} ms (median {n_med_a:.0f} sources, equal to the built "
            f"catalog's answers); {_load()}"
        )

        pg = None if args.no_pg else _pg_settings(root / "pg")
        if pg is None:
            print("PostgreSQL: skipped (set CONTIMG_TEST_PG_URL)")
            return 0
        pg_settings, base, name = pg
        try:
            t_build, c_build, steps = _build(pg_settings, paths)
            print(
                f"PostgreSQL build (empty):         {t_build:7.1f} s wall "
                f"({c_build:.1f} s client CPU)"
            )
            print(f"    steps {steps}; {_load()}")
            if not args.no_rebuild:
                t_rebuild, c_rebuild, steps = _build(pg_settings, paths)
                print(
                    f"PostgreSQL rebuild (schema swap): {t_rebuild:7.1f} s wall "
                    f"({c_rebuild:.1f} s client CPU)"
                )
                print(f"    steps {steps}; {_load()}")
            t_cone_pg, c_cone_pg, n_med = _cone_times(pg_settings, centres)
            print(
                f"PostgreSQL q3c cone r={CONE_RADIUS_DEG} deg: median {t_cone_pg * 1e3:6.2f} ms "
                f"wall ({c_cone_pg * 1e3:.2f} ms client CPU) "
                f"(median {n_med:.0f} sources); brute force / q3c = {t_brute / t_cone_pg:,.0f}x"
            )
        finally:
            _drop_pg(base, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
