"""Latency of the dashboard API under 50 clients, and its CPU cost per request.

Builds a deployment with 10^6 photometry rows (``--sources`` x ``--images``), starts
``contimg serve --no-access-log`` in its own process on 127.0.0.1, and measures three
requests a dashboard makes all the time:

* ``status``: ``GET /api/v1/status`` (the spec's PipelineStatus);
* ``source search``: ``GET /api/v1/sources`` with a cone and a flux filter;
* ``light curve``: ``GET /api/v1/sources/{id}/lightcurve`` (the spec's query),
  for a random source each time.

Each endpoint is measured under four loads (``--clients`` = 50 clients, each one
keep-alive HTTP/1.1 connection, like a browser tab):

1. ``1 client``: one client, back to back: the latency of an idle server.
2. ``dashboard``: every client waits a random think time (exponential, mean
   ``--think-s``, default 1 s) before each request. This is the load of 50 open
   dashboards whose users act about once a second each (a pessimistic rate: the web
   app refreshes by itself only every 60 s and on live events). The targets
   (p99 under 100 ms for status and light curve) are about this case.
3. ``burst``: all clients send at the same instant, ``--bursts`` times, 1.2 s apart:
   what a live event does, since every open page refetches the queries it
   invalidates at once (for status: a cache miss at each burst).
4. ``saturated``: every client sends its next request as soon as the previous one
   is answered (a closed loop with no think time). The server is never idle, so
   this measures throughput; by Little's law latency is then about
   clients / throughput, whatever the code does, so it is no user-facing figure.

For each it prints p50 and p99 latency, requests per second, and the server's CPU
time per request (user + system, from /proc: the figure that does not depend on what
else the machine is doing). The client is a minimal asyncio HTTP/1.1 client, so that
on a small machine it takes little CPU from the server (its own CPU per request is
printed too). Traffic goes to loopback only; every loop is bounded in count.

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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

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
        with dbs.products.write() as conn:  # committed: the planner's statistics
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


class HttpClient:
    """One keep-alive HTTP/1.1 connection sending GETs one at a time (a browser
    tab's connection). Reconnects after ``idle_s`` idle, before uvicorn's 5 s
    keep-alive timeout would close the connection under it."""

    def __init__(self, port: int, *, idle_s: float = 4.0) -> None:
        self.port = port
        self.idle_s = idle_s
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._used = 0.0

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._streams is not None and time.monotonic() - self._used > self.idle_s:
            await self.close()
        if self._streams is None:
            self._streams = await asyncio.open_connection("127.0.0.1", self.port)
        return self._streams

    async def get(self, path: str) -> tuple[int, bytes]:
        reader, writer = await self._connection()
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = dict(
            (k.strip().lower(), v.strip()) for k, v in (h.split(":", 1) for h in lines[1:] if h)
        )
        if "content-length" not in headers:
            raise SystemExit(f"{path}: no Content-Length in the answer: {headers}")
        body = await reader.readexactly(int(headers["content-length"]))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        self._used = time.monotonic()
        return status, body

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


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


@dataclass
class Result:
    latencies_s: list[float]
    wall_s: float
    server_cpu_s: float
    client_cpu_s: float

    def pct_ms(self, q: float) -> float:
        return float(np.percentile(np.array(self.latencies_s), q)) * 1e3

    @property
    def n(self) -> int:
        return len(self.latencies_s)


async def run_phase(
    port: int,
    server_pid: int,
    paths: list[str],
    *,
    clients: int,
    plan: str,
    args: argparse.Namespace,
) -> Result:
    """Run one load ``plan`` ('single', 'dashboard', 'burst', 'saturated') of
    ``clients`` clients, each request for a random one of ``paths``."""
    latencies: list[float] = []
    conns = [HttpClient(port) for _ in range(clients)]

    async def one(conn: HttpClient, rnd: random.Random) -> None:
        path = rnd.choice(paths)
        t = time.perf_counter()
        status, body = await conn.get(path)
        latencies.append(time.perf_counter() - t)
        if status != 200:
            raise SystemExit(f"{path} -> {status}: {body[:200]!r}")

    rnds = [random.Random(k) for k in range(clients)]
    for conn, rnd in zip(conns, rnds, strict=True):  # connect and warm up
        await one(conn, rnd)
    latencies.clear()

    async def think_loop(k: int, n: int, think_s: float) -> None:
        for _ in range(n):
            if think_s > 0:
                await asyncio.sleep(rnds[k].expovariate(1.0 / think_s))
            await one(conns[k], rnds[k])

    t, cpu0, ccpu0 = time.perf_counter(), cpu_s(server_pid), time.process_time()
    if plan == "single":
        await think_loop(0, 5 * args.requests, 0.0)
    elif plan == "dashboard":
        await asyncio.gather(*(think_loop(k, args.requests, args.think_s) for k in range(clients)))
    elif plan == "saturated":
        await asyncio.gather(*(think_loop(k, args.requests, 0.0) for k in range(clients)))
    elif plan == "burst":
        for b in range(args.bursts):
            if b:
                await asyncio.sleep(1.2)  # longer than the status cache's 1 s
            await asyncio.gather(*(one(conns[k], rnds[k]) for k in range(clients)))
    else:
        raise ValueError(plan)
    result = Result(
        latencies,
        time.perf_counter() - t,
        cpu_s(server_pid) - cpu0,
        time.process_time() - ccpu0,
    )
    for conn in conns:
        await conn.close()
    return result


def start_server(home: Path, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = dict(os.environ, CONTIMG_API__WRITE_TOKEN="bench")
    cmd = [sys.executable, "-m", "contimg", "--home", str(home)]
    if args.database_url:
        cmd += ["--database-url", args.database_url]
    cmd += ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    cmd += ["--workers", str(args.workers)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60

    async def health() -> int:
        conn = HttpClient(port)
        try:
            return (await conn.get("/api/v1/health"))[0]
        finally:
            await conn.close()

    while True:
        try:
            if asyncio.run(health()) == 200:
                return server, port
        except OSError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            err = server.stderr.read().decode() if server.stderr else ""
            raise SystemExit(f"server did not start:\n{err}")
        time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", type=int, default=2000)
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--groups", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument(
        "--requests",
        type=int,
        default=20,
        help="Per client, endpoint and load (dashboard, saturated).",
    )
    ap.add_argument("--think-s", type=float, default=1.0, help="Mean think time of 'dashboard'.")
    ap.add_argument("--bursts", type=int, default=10, help="Bursts of 'burst'.")
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
        server, port = start_server(home, args)
        try:
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
            print(
                f"light curve: {args.images} points; server: {args.workers} uvicorn process(es), "
                f"{'PostgreSQL' if args.database_url else 'SQLite'}; {os.cpu_count()} CPUs; "
                f"load average at start {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            n = args.clients
            plans = {
                "single": "1 client, back to back",
                "dashboard": f"{n} clients, think {args.think_s:g} s",
                "burst": f"{n} at once x {args.bursts}",
                "saturated": f"{n} clients, no think time",
            }
            print(
                f"{'endpoint':<14} {'load':<27} {'p50':>9} {'p99':>9} {'req/s':>6} "
                f"{'server CPU/req':>14} {'client CPU/req':>14}"
            )
            p99: dict[tuple[str, str], float] = {}
            for name, paths in endpoints.items():
                for plan, label in plans.items():
                    r = asyncio.run(
                        run_phase(
                            port,
                            server.pid,
                            paths,
                            clients=1 if plan == "single" else n,
                            plan=plan,
                            args=args,
                        )
                    )
                    p99[(name, plan)] = r.pct_ms(99)
                    print(
                        f"{name:<14} {label:<27} {r.pct_ms(50):6.1f} ms {r.pct_ms(99):6.1f} ms "
                        f"{r.n / r.wall_s:6.0f} {r.server_cpu_s / r.n * 1e3:11.2f} ms "
                        f"{r.client_cpu_s / r.n * 1e3:11.2f} ms",
                        flush=True,
                    )
            print(f"load average at the end {os.getloadavg()[0]:.1f}")
            for name in ("status", "light curve"):
                for plan in ("dashboard", "burst"):
                    ok = p99[(name, plan)] < 100.0
                    print(
                        f"target p99 < 100 ms, {name}, {plans[plan]}: "
                        f"{p99[(name, plan)]:.1f} ms, {'met' if ok else 'MISSED'}"
                    )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
