"""Ingest and queue throughput, on SQLite and PostgreSQL.

1. Burst: 16,000 subband files (1,000 groups of 16, tiny but valid UVH5 headers,
   timestamps jittered by up to +-5 s) land at once; time until every group is
   ``pending`` (two size checks, a header check per file, grouping, queue rows).
   Baseline in the same process: the file work alone (list, stat twice, open each
   header with h5py), with no database.
2. Claims: ``contimg worker --drain`` processes (no stages registered) empty a queue
   of 1,000 pending groups; throughput of 4 workers against 1 worker (baseline).
   Measured inside the database: groups / (last completion - first claim), so
   process start-up is not counted. Then the same with a stage that sleeps 0.1 s
   per group (groups/5 groups): how well workers share real work.

Usage::

    .venv/bin/python benchmarks/ingest_bench.py [--groups 1000] [--backend both]
        [--pg-url URL]   # default $CONTIMG_BENCH_PG_URL or $CONTIMG_TEST_PG_URL

The PostgreSQL half creates a scratch database next to the URL's and drops it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import init_databases  # noqa: E402
from tests.factories import queue_pending_groups, write_tiny_uvh5  # noqa: E402

from contimg.config import Settings, get_settings  # noqa: E402
from contimg.db.engine import Databases  # noqa: E402
from contimg.db.queries import ingest as iq  # noqa: E402
from contimg.ingest.names import TIMESTAMP_FORMAT, classify, subband_file_name  # noqa: E402
from contimg.ingest.scanner import Scanner  # noqa: E402
from contimg.ingest.uvh5 import read_header  # noqa: E402

CONTIMG = str(Path(sys.executable).parent / "contimg")


def make_files(directory: Path, n_groups: int) -> int:
    rng = random.Random(42)
    start = datetime(2025, 10, 2, tzinfo=UTC)
    n = 0
    for g in range(n_groups):
        t0 = start + timedelta(seconds=round(g * 309.0))
        for sb in range(16):
            stamp = (t0 + timedelta(seconds=rng.randint(-5, 5))).strftime(TIMESTAMP_FORMAT)
            write_tiny_uvh5(
                directory / subband_file_name(stamp, sb), timestamp=stamp, subband_idx=sb
            )
            n += 1
    return n


def baseline_file_work(directory: Path) -> float:
    """List, stat twice and header-check every file: the floor of any ingest."""
    t = time.perf_counter()
    with os.scandir(directory) as it:
        paths = sorted(e.path for e in it if e.is_file())
    for _ in range(2):
        for p in paths:
            classify(os.path.basename(p))
            os.stat(p)
    for p in paths:
        read_header(Path(p))
    return time.perf_counter() - t


@contextmanager
def deployment(backend: str, pg_url: str | None, **overrides: object) -> Iterator[Settings]:
    home = Path(tempfile.mkdtemp(prefix="contimg-bench-"))
    url = None
    admin = None
    name = f"contimg_bench_{uuid.uuid4().hex[:8]}"
    if backend == "postgresql":
        assert pg_url
        admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    cfg = get_settings(home=home, database_url=url, **overrides)
    init_databases(cfg).dispose()
    try:
        yield cfg
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def burst(backend: str, pg_url: str | None, files_dir: Path, n_groups: int) -> float:
    with deployment(backend, pg_url, ingest={"settle_s": 0.001}) as cfg:
        dbs = Databases(cfg)
        scanner = Scanner(dbs.ingest, cfg)
        t = time.perf_counter()
        first = scanner.scan_directory(files_dir)
        time.sleep(0.002)  # the settle time between the two size checks (not counted)
        t_sleep = 0.002
        second = scanner.scan_directory(files_dir)
        elapsed = time.perf_counter() - t - t_sleep
        with dbs.ingest.read() as conn:
            counts = iq.count_by_state(conn)
        dbs.dispose()
    assert first.waiting == 16 * n_groups, first.summary()
    assert counts["pending"] == n_groups, (counts, second.summary())
    return elapsed


def claims(
    backend: str, pg_url: str | None, n_groups: int, n_workers: int, stage_s: float = 0.0
) -> float:
    with deployment(backend, pg_url) as cfg:
        dbs = Databases(cfg)
        queue_pending_groups(dbs.ingest, n_groups)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTIMG_")}
        env.update(
            CONTIMG_HOME=str(cfg.home),
            CONTIMG_WORKER__BUILTIN_STAGES="false",
            CONTIMG_WORKER__POLL_INTERVAL_S="0.1",
            OPENBLAS_NUM_THREADS="1",
        )
        if stage_s:  # a stage that takes stage_s seconds per group (tests' recording stage)
            env.update(
                PYTHONPATH=str(REPO),
                CONTIMG_WORKER__STAGE_MODULES=json.dumps(["tests.ingest.stages_for_tests"]),
                CONTIMG_TEST_STAGE_SLEEP_S=str(stage_s),
            )
        if cfg.database_url:
            env["CONTIMG_DATABASE_URL"] = cfg.database_url
        procs = [
            subprocess.Popen(
                [CONTIMG, "worker", "--drain", "--worker-id", f"b{i}"],
                env=env,
                stderr=subprocess.DEVNULL,
            )
            for i in range(n_workers)
        ]
        for p in procs:
            if p.wait() != 0:
                raise SystemExit(f"worker exited with {p.returncode}")
        with dbs.ingest.read() as conn:
            rows = iq.list_groups(conn, state="completed", limit=10**9)
        dbs.dispose()
    assert len(rows) == n_groups
    first_claim = min(float(r["heartbeat_at"]) for r in rows)
    last_done = max(float(r["last_update"]) for r in rows)
    return n_groups / (last_done - first_claim)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("CONTIMG_BENCH_PG_URL") or os.environ.get("CONTIMG_TEST_PG_URL"),
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and not args.pg_url:
        print("no PostgreSQL URL (--pg-url or CONTIMG_BENCH_PG_URL): SQLite only")
        backends = ["sqlite"]
    results: dict[str, object] = {"groups": args.groups, "files": 16 * args.groups}
    files_dir = Path(tempfile.mkdtemp(prefix="contimg-bench-files-"))
    try:
        t = time.perf_counter()
        n = make_files(files_dir, args.groups)
        print(f"wrote {n} tiny UVH5 files in {time.perf_counter() - t:.1f} s")
        base = baseline_file_work(files_dir)
        print(f"baseline (list, 2 x stat, header check; no database): {base:.2f} s")
        results["baseline_file_work_s"] = round(base, 3)
        for backend in backends:
            b = burst(backend, args.pg_url, files_dir, args.groups)
            print(
                f"[{backend}] burst of {n} files -> {args.groups} pending groups: {b:.2f} s "
                f"({n / b:.0f} files/s; {b / base:.1f} x the file-work baseline)"
            )
            one = claims(backend, args.pg_url, args.groups, 1)
            four = claims(backend, args.pg_url, args.groups, 4)
            print(
                f"[{backend}] claim+complete throughput: 1 worker {one:.0f} groups/s, "
                f"4 workers {four:.0f} groups/s (ratio {four / one:.2f})"
            )
            n_work = max(args.groups // 5, 20)
            one_w = claims(backend, args.pg_url, n_work, 1, stage_s=0.1)
            four_w = claims(backend, args.pg_url, n_work, 4, stage_s=0.1)
            print(
                f"[{backend}] {n_work} groups with a 0.1 s stage: 1 worker {one_w:.1f} groups/s, "
                f"4 workers {four_w:.1f} groups/s (ratio {four_w / one_w:.2f})"
            )
            results[backend] = {
                "stage_0.1s_1_worker_per_s": round(one_w, 2),
                "stage_0.1s_4_workers_per_s": round(four_w, 2),
                "stage_0.1s_ratio_4_vs_1": round(four_w / one_w, 2),
                "burst_s": round(b, 3),
                "burst_files_per_s": round(n / b),
                "burst_vs_baseline": round(b / base, 2),
                "claims_1_worker_per_s": round(one, 1),
                "claims_4_workers_per_s": round(four, 1),
                "claims_ratio_4_vs_1": round(four / one, 2),
            }
    finally:
        shutil.rmtree(files_dir, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
