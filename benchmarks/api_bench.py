"""Latency of the dashboard API under concurrent clients.

Builds a deployment with 10^6 photometry rows (``--sources`` x ``--images``), starts
``contimg serve`` in its own process on 127.0.0.1, and measures p50/p99 latency of
three requests a dashboard makes all the time:

* ``status``: ``GET /api/v1/status`` (the spec's PipelineStatus);
* ``source search``: ``GET /api/v1/sources`` with a cone and a flux filter;
* ``light curve``: ``GET /api/v1/sources/{id}/lightcurve`` (the spec's query),
  for a random source each time.

First with one client (the baseline, in the same run), then with ``--clients``
concurrent clients (asyncio + httpx), each sending ``--requests`` requests per
endpoint. Prints figures and the ratio of each concurrent percentile to the
single-client p50. Traffic goes to loopback only; the run is bounded in count.

    .venv/bin/python benchmarks/api_bench.py              # SQLite
    .venv/bin/python benchmarks/api_bench.py --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np

from contimg.config import DATABASE_NAMES, Settings, get_settings
from contimg.db import ingest, migrations, products
from contimg.db.engine import Databases, open_database

T0 = 1.764e9
MJD0 = 61003.0


def sid(i: int) -> str:
    return f"NVSS J{i:06d}+400000"


def build(settings: Settings, *, n_sources: int, n_images: int, n_groups: int) -> None:
    for name in DATABASE_NAMES:
        db = open_database(settings, name, create_dirs=True)
        migrations.upgrade(db)
        db.dispose()
    dbs = Databases(settings)
    rng = np.random.default_rng(7)
    ra = 150.0 + rng.uniform(-3, 3, n_sources)
    dec = 40.0 + rng.uniform(-3, 3, n_sources)
    flux = 10 ** rng.uniform(0, 3, n_sources)  # mJy
    states = ["completed"] * 8 + ["failed", "pending", "in_progress", "collecting"]
    with dbs.ingest.write() as conn:
        conn.execute(
            ingest.ingest_queue.insert(),
            [
                {
                    "group_id": f"g{i:06d}",
                    "state": states[i % len(states)],
                    "received_at": T0 + 300 * i,
                    "last_update": T0 + 300 * i + 200,
                }
                for i in range(n_groups)
            ],
        )
    t = time.perf_counter()
    with dbs.products.write() as conn:
        conn.execute(
            products.ms_index.insert(),
            [{"path": f"/p/ms/{k}.ms", "mid_mjd": MJD0 + k * 0.0036} for k in range(n_images)],
        )
        conn.execute(
            products.images.insert(),
            [
                {
                    "path": f"/p/img/{k}.fits",
                    "ms_path": f"/p/ms/{k}.ms",
                    "created_at": T0 + 300 * k,
                    "type": "pbcor",
                    "noise_jy": 1e-3,
                    "field_name": "J1000+40",
                }
                for k in range(n_images)
            ],
        )
        cols = (
            "image_path, source_id, ra_deg, dec_deg, nvss_flux_mjy, peak_jyb, peak_err_jyb,"
            " snr, measured_at, mjd, flags"
        )
        marks = "?, " * 10 + "?"
        if not dbs.products.is_sqlite:
            marks = "%s, " * 10 + "%s"
        for k in range(n_images):
            f = flux * (1 + 0.01 * rng.standard_normal(n_sources))
            rows = [
                (
                    f"/p/img/{k}.fits",
                    sid(i),
                    float(ra[i]),
                    float(dec[i]),
                    float(flux[i]),
                    float(f[i]) / 1e3,
                    1e-3,
                    float(f[i]),
                    T0 + 300 * k,
                    MJD0 + k * 0.0036,
                    0,
                )
                for i in range(n_sources)
            ]
            conn.exec_driver_sql(f"INSERT INTO photometry ({cols}) VALUES ({marks})", rows)
        conn.execute(
            products.variability_stats.insert(),
            [
                {
                    "source_id": sid(i),
                    "ra_deg": float(ra[i]),
                    "dec_deg": float(dec[i]),
                    "nvss_flux_mjy": float(flux[i]),
                    "n_obs": n_images,
                    "mean_flux_mjy": float(flux[i]),
                    "std_flux_mjy": 0.01 * float(flux[i]),
                    "chi2_nu": 1.0,
                    "sigma_deviation": 3.0,
                    "eta_metric": 1.0,
                    "last_measured_at": T0,
                    "updated_at": T0,
                }
                for i in range(n_sources)
            ],
        )
    if dbs.products.is_sqlite:
        with dbs.products.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    print(
        f"built {n_sources * n_images:,} photometry rows ({n_sources} sources x {n_images} "
        f"images) in {time.perf_counter() - t:.1f} s",
        flush=True,
    )
    dbs.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def measure(base: str, paths: list[str], *, clients: int, requests_each: int) -> list[float]:
    """Latencies (s) of ``clients`` concurrent clients each sending ``requests_each``
    requests drawn from ``paths``."""
    latencies: list[float] = []
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them.
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(base_url=base, timeout=60.0, limits=limits) as client:

        async def one(seed: int) -> None:
            rnd = random.Random(seed)
            for _ in range(requests_each):
                path = rnd.choice(paths)
                t = time.perf_counter()
                r = await client.get(path)
                latencies.append(time.perf_counter() - t)
                if r.status_code != 200:
                    raise SystemExit(f"{path} -> {r.status_code}: {r.text[:200]}")

        await asyncio.gather(*(one(s) for s in range(clients)))
    return latencies


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` and its children
    (the worker processes of ``serve --workers``), from Linux /proc."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(int(entry.name))
        except (OSError, IndexError):
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", type=int, default=2000)
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--groups", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20, help="Per client and endpoint.")
    ap.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite).")
    ap.add_argument("--workers", type=int, default=1, help="Server processes.")
    ap.add_argument(
        "--home",
        type=Path,
        default=None,
        help="Keep the deployment here and reuse it on later runs (default: a temporary one).",
    )
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="contimg-bench-") as tmp:
        home = args.home or Path(tmp)
        settings = get_settings(home=home, database_url=args.database_url)
        marker = home / f"built-{args.sources}x{args.images}-{bool(args.database_url)}"
        if marker.exists():
            print(f"reusing the deployment in {home}", flush=True)
        elif args.database_url:
            import sqlalchemy as sa

            eng = sa.create_engine(args.database_url)
            with eng.begin() as conn:
                for name in DATABASE_NAMES:
                    conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            eng.dispose()
        if not marker.exists():
            build(settings, n_sources=args.sources, n_images=args.images, n_groups=args.groups)
            marker.touch()
        port = free_port()
        env = dict(os.environ, CONTIMG_API__WRITE_TOKEN="bench")
        cmd = [sys.executable, "-m", "contimg", "--home", str(home)]
        if args.database_url:
            cmd += ["--database-url", args.database_url]
        cmd += ["serve", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--workers", str(args.workers)]
        server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    err = server.stderr.read().decode() if server.stderr else ""
                    raise SystemExit(f"server did not start:\n{err}")
                time.sleep(0.2)
            rnd = random.Random(1)
            endpoints = {
                "status": ["/api/v1/status"],
                "source search": [
                    f"/api/v1/sources?ra_deg={150 + rnd.uniform(-2, 2):.3f}"
                    f"&dec_deg={40 + rnd.uniform(-2, 2):.3f}&radius_deg=0.5"
                    f"&min_flux_mjy={rnd.choice([1, 10, 100])}&limit=50"
                    for _ in range(50)
                ],
                "light curve": [
                    f"/api/v1/sources/{quote(sid(rnd.randrange(args.sources)), safe='')}/lightcurve"
                    for _ in range(200)
                ],
            }
            n_points = len(httpx.get(base + endpoints["light curve"][0]).json()["points"])
            load = os.getloadavg()[0]
            print(
                f"light curve: {n_points} points; server: {args.workers} uvicorn process(es); "
                f"machine load average {load:.1f} on {os.cpu_count()} CPUs",
                flush=True,
            )
            print(
                f"{'endpoint':<14} {'1 client p50':>13} {'p99':>8} | "
                f"{args.clients} clients p50 {'p99':>8} {'req/s':>7} | p99/base p50 | "
                "server CPU/request"
            )
            for name, paths in endpoints.items():
                asyncio.run(measure(base, paths, clients=1, requests_each=5))  # warm up
                base_lat = asyncio.run(
                    measure(base, paths, clients=1, requests_each=args.requests * 2)
                )
                t, cpu0 = time.perf_counter(), cpu_s(server.pid)
                lat = asyncio.run(
                    measure(base, paths, clients=args.clients, requests_each=args.requests)
                )
                wall = time.perf_counter() - t
                cpu_ms = (cpu_s(server.pid) - cpu0) / len(lat) * 1e3
                print(
                    f"{name:<14} {pct(base_lat, 50):10.1f} ms {pct(base_lat, 99):5.1f} ms | "
                    f"{pct(lat, 50):13.1f} ms {pct(lat, 99):5.1f} ms {len(lat) / wall:7.0f} | "
                    f"{pct(lat, 99) / pct(base_lat, 50):11.1f}x | {cpu_ms:6.2f} ms",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
