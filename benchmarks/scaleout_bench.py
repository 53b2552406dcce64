"""Scale-out: does Dask distributed add anything to the queue's own workers?

The same fixed CPU work per group (``stages_cpu.work``, single-threaded, ~0.5 s
each here), for ``--groups`` groups:

1. the queue: ``contimg worker --drain`` processes sharing one SQLite queue, 1
   against 2 workers. Timed inside the database (first claim to last completion),
   so process start-up is not counted;
2. Dask distributed (only if ``dask[distributed]`` is installed: contimg no longer
   depends on it): ``LocalCluster(n_workers=k, threads_per_worker=1)`` and
   ``client.map`` of the same function, 1 against 2 workers, timed around the map
   (cluster start-up reported apart).

Usage::

    .venv/bin/python benchmarks/scaleout_bench.py [--groups 16] [--work 10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from tests.conftest import init_databases  # noqa: E402
from tests.factories import queue_pending_groups  # noqa: E402

from contimg.config import get_settings  # noqa: E402
from contimg.db.queries import ingest as iq  # noqa: E402
from stages_cpu import work  # noqa: E402

CONTIMG = str(Path(sys.executable).parent / "contimg")


def queue_run(n_groups: int, n_workers: int, n_work: int) -> float:
    home = Path(tempfile.mkdtemp(prefix="contimg-scaleout-"))
    try:
        cfg = get_settings(home=home)
        dbs = init_databases(cfg)
        queue_pending_groups(dbs.ingest, n_groups)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTIMG_")}
        env.update(
            CONTIMG_HOME=str(home),
            CONTIMG_WORKER__BUILTIN_STAGES="false",
            CONTIMG_WORKER__STAGE_MODULES=json.dumps(["stages_cpu"]),
            CONTIMG_WORKER__POLL_INTERVAL_S="0.1",
            CONTIMG_BENCH_WORK=str(n_work),
            PYTHONPATH=str(REPO / "benchmarks"),
            OPENBLAS_NUM_THREADS="1",
        )
        procs = [
            subprocess.Popen(
                [CONTIMG, "worker", "--drain", "--worker-id", f"s{i}"],
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
            metrics = [iq.metrics_row(conn, group_id=r["group_id"]) for r in rows]
        dbs.dispose()
        assert len(rows) == n_groups
        start = min(float(m["recorded_at"]) - float(m["total_time"]) for m in metrics if m)
        end = max(float(m["recorded_at"]) for m in metrics if m)
        return end - start
    finally:
        shutil.rmtree(home, ignore_errors=True)


def dask_run(n_groups: int, n_workers: int, n_work: int) -> tuple[float, float] | None:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        return None
    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(n_workers)
        startup = time.perf_counter() - t0
        t = time.perf_counter()
        client.gather(client.map(work, [n_work] * n_groups, pure=False))
        return time.perf_counter() - t, startup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=16)
    parser.add_argument("--work", type=int, default=10_000_000)
    args = parser.parse_args()
    t = time.perf_counter()
    work(args.work)
    one = time.perf_counter() - t
    print(f"one unit of work here: {one:.2f} s; {args.groups} groups, {os.cpu_count()} cores")
    q1 = queue_run(args.groups, 1, args.work)
    q2 = queue_run(args.groups, 2, args.work)
    print(f"queue, 1 worker:  {q1:6.2f} s")
    print(f"queue, 2 workers: {q2:6.2f} s   speed-up {q1 / q2:.2f}x")
    d1 = dask_run(args.groups, 1, args.work)
    d2 = dask_run(args.groups, 2, args.work)
    if d1 is None or d2 is None:
        print("dask: not installed (pip install 'dask[distributed]' to compare)")
        return
    print(f"dask,  1 worker:  {d1[0]:6.2f} s   (cluster start {d1[1]:.2f} s)")
    print(
        f"dask,  2 workers: {d2[0]:6.2f} s   speed-up {d1[0] / d2[0]:.2f}x "
        f"(cluster start {d2[1]:.2f} s)"
    )
    print(f"2 workers, dask against the queue: {q2 / d2[0]:.2f}x")


if __name__ == "__main__":
    main()
