"""Photometry storage: batch insert throughput and the spec's flux-time-series query.

For each backend (SQLite always; PostgreSQL when CONTIMG_TEST_PG_URL or --pg-url is
given) and each table size (default 10^6 and 10^7 photometry rows), this script

1. creates fresh databases with ``contimg``'s migrations,
2. inserts the rows image by image (10^4 sources per image, as the pipeline writes
   them), printing rows/s,
3. times the light-curve query of one source (1,000 points) for random sources,
   printing median and p99 latency, and the same query with the indexes disabled
   (a full scan) in the same process, as the baseline for a speed-up ratio.

Wall times depend on what else the machine runs; each figure is printed with the CPU
time of the same calls and the load average.

Usage: python benchmarks/db_bench.py [--sizes 1e6,1e7] [--queries 200] [--pg-url URL]
       [--workdir DIR]   (keep the SQLite databases there and reuse them: queries only)
Target: light-curve median under 5 ms on SQLite at 10^7 rows.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from contimg.config import DATABASE_NAMES, Settings, get_settings
from contimg.db import migrations
from contimg.db.engine import Databases, open_database
from contimg.db.products import images, ms_index, photometry
from contimg.db.queries.bulk import insert_many
from contimg.db.queries.patterns import flux_timeseries

EPOCHS = 1000
BATCH = 10_000
COLUMNS = (
    "image_path", "source_id", "ra_deg", "dec_deg", "peak_jyb", "peak_err_jyb", "snr",
    "measured_at", "mjd",
)  # fmt: skip


def _fresh(settings: Settings) -> Databases:
    if settings.database_url:
        eng = sa.create_engine(settings.database_url, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            for name in DATABASE_NAMES:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        eng.dispose()
    for name in DATABASE_NAMES:
        db = open_database(settings, name, create_dirs=True)
        migrations.upgrade(db)
        db.dispose()
    return Databases(settings)


def _source(i: int) -> str:
    return f"NVSS J{i // 100:04d}{i % 100:02d}.0+540000"


def populate(dbs: Databases, n_rows: int) -> float:
    """Insert ``n_rows`` photometry rows (EPOCHS images); return rows per second."""
    n_sources = n_rows // EPOCHS
    t0 = time.perf_counter()
    for epoch in range(EPOCHS):
        ms = f"/products/g{epoch:05d}.ms"
        img = f"/products/g{epoch:05d}.pbcor.fits"
        mjd = 60950.0 + epoch * 309.0 / 86400.0
        with dbs.products.write() as conn:
            conn.execute(ms_index.insert().values(path=ms, mid_mjd=mjd))
            conn.execute(
                images.insert().values(
                    path=img, ms_path=ms, created_at=1.7e9, type="pbcor", noise_jy=1e-3
                )
            )
            for start in range(0, n_sources, BATCH):
                insert_many(
                    conn,
                    photometry,
                    columns=COLUMNS,
                    rows=[
                        (img, _source(s), 10.0, 54.0, 0.01 + 1e-6 * s, 1e-3, 10.0, 1.7e9, mjd)
                        for s in range(start, min(start + BATCH, n_sources))
                    ],
                )
        if epoch % 100 == 99:
            rate = (epoch + 1) * n_sources / (time.perf_counter() - t0)
            print(f"    {epoch + 1}/{EPOCHS} images, {rate:,.0f} rows/s", flush=True)
    with dbs.products.write() as conn:
        conn.exec_driver_sql("ANALYZE")
    return n_rows / (time.perf_counter() - t0)


def time_queries(
    dbs: Databases, n_sources: int, n: int, *, baseline: bool
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``n`` light-curve queries for random sources."""
    rng = random.Random(42)
    out: list[float] = []
    cpu: list[float] = []
    with dbs.products.engine.connect() as conn:
        if baseline:
            if dbs.products.is_sqlite:
                # Hide the photometry indexes from the planner: a full scan.
                pass
            else:
                conn.exec_driver_sql("SET enable_indexscan = off")
                conn.exec_driver_sql("SET enable_bitmapscan = off")
        for _ in range(n):
            sid = _source(rng.randrange(n_sources))
            c0 = time.process_time()
            t0 = time.perf_counter()
            if baseline and dbs.products.is_sqlite:
                rows = conn.execute(
                    sa.text(
                        "SELECT mjd, peak_jyb * 1000 AS flux_mjy, peak_err_jyb * 1000, snr, "
                        "i.field_name, i.noise_jy * 1000 FROM photometry p NOT INDEXED "
                        "JOIN images i ON p.image_path = i.path "
                        "WHERE p.source_id = :s ORDER BY mjd ASC"
                    ),
                    {"s": sid},
                ).all()
            else:
                rows = flux_timeseries(conn, source_id=sid)
            out.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            assert len(rows) == EPOCHS, (sid, len(rows))
        conn.rollback()
    return out, cpu


def _fmt(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100) if len(samples) > 1 else samples * 99
    return f"median {1e3 * statistics.median(samples):8.2f} ms   p99 {1e3 * q[98]:8.2f} ms"


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} CPUs"


def run(
    label: str, settings: Settings, sizes: list[int], n_queries: int, *, keep: bool = False
) -> None:
    for n_rows in sizes:
        print(f"\n[{label}] photometry rows: {n_rows:,}", flush=True)
        # A fresh state directory per size (PostgreSQL schemas are dropped by _fresh).
        settings = settings.model_copy(update={"state_dir": settings.home / f"state-{n_rows}"})
        done = settings.state_path / "populated"
        if keep and done.exists() and not settings.database_url:
            dbs = Databases(settings)
            print(f"  reusing {settings.state_path} (populated earlier; no insert figure)")
        else:
            dbs = _fresh(settings)
            rate = populate(dbs, n_rows)
            print(f"  batch insert:             {rate:12,.0f} rows/s   ({_load()})")
            if keep and dbs.products.is_sqlite:
                done.write_text(f"{n_rows}\n")
        fast, fast_cpu = time_queries(dbs, n_rows // EPOCHS, n_queries, baseline=False)
        slow, _ = time_queries(dbs, n_rows // EPOCHS, max(3, n_queries // 50), baseline=True)
        print(f"  light curve (1,000 pts):  {_fmt(fast)}   ({_load()})")
        print(f"    CPU time of the same:   {_fmt(fast_cpu)}")
        print(f"  baseline (no index):      {_fmt(slow)}")
        print(
            f"  speed-up:                 {statistics.median(slow) / statistics.median(fast):.0f}x"
        )
        if dbs.products.is_sqlite:
            size = Path(dbs.products.location).stat().st_size
            print(f"  products.sqlite3 size:    {size / 1e9:.2f} GB")
            if not keep:
                Path(dbs.products.location).unlink()
        dbs.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7", help="comma-separated row counts")
    parser.add_argument("--queries", type=int, default=200, help="light-curve queries per size")
    parser.add_argument("--pg-url", default=os.environ.get("CONTIMG_TEST_PG_URL"))
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep (and reuse) the SQLite databases here"
    )
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="contimg-dbbench-") as tmp:
        home = args.workdir.resolve() if args.workdir else Path(tmp)
        if not args.skip_sqlite:
            run("sqlite", get_settings(home=home), sizes, args.queries, keep=bool(args.workdir))
        if args.pg_url:
            run(
                "postgresql",
                get_settings(home=Path(tmp), database_url=args.pg_url),
                sizes,
                args.queries,
            )
        else:
            print("\n[postgresql] skipped: pass --pg-url or set CONTIMG_TEST_PG_URL")


if __name__ == "__main__":
    main()
