"""How long ``contimg demo`` takes to show each thing the dashboard should show.

Runs ``contimg demo`` (headless, in a fresh temporary home; the arguments are the
demo's own, default its defaults) and polls the HTTP API every 2 s with the printed
token, printing the wall time from the command's start to each milestone:

* ``token``: the dashboard URL and token are printed (catalogs simulated and built);
* ``image``: a completed group with its images;
* ``light curve``: the injected ESE source has a light curve of 3 epochs;
* ``mosaic``: an automatic mosaic exists;
* ``ESE candidate``: the injected source is an ESE candidate (with the flag types);
* ``all groups``: every group of the run is completed (``--until-done``).

Then it stops the demo with SIGINT (Ctrl-C) and prints how long that took. Also
printed: the load average before and after (the machine is shared; the figures are
wall times) and per-stage means from ``performance_metrics``.

    .venv/bin/python benchmarks/demo_bench.py                    # make demo's defaults
    .venv/bin/python benchmarks/demo_bench.py --until-done -- --days 3 --science-groups 2 \\
        --workers 3 --pace 0        # the test's shortened demo (add --database-url URL)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

CONTIMG = str(Path(sys.executable).parent / "contimg")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite).")
    ap.add_argument("--timeout-s", type=float, default=3600.0)
    ap.add_argument("--until-done", action="store_true", help="Also wait for every group.")
    ap.add_argument("demo_args", nargs="*", help="Arguments of 'contimg demo' (after --).")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="contimg-demo-bench-"))
    port = free_port()
    argv = [CONTIMG, "--home", str(home)]
    if args.database_url:
        argv += ["--database-url", args.database_url]
    argv += ["demo", "--port", str(port), *args.demo_args]
    out = home.parent / f"{home.name}.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTIMG_")}
    env["OPENBLAS_NUM_THREADS"] = "1"
    print(f"$ {' '.join(argv[1:])}")
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=out.open("wb"), stderr=subprocess.STDOUT, env=env)
    seen: dict[str, float] = {}

    def mark(name: str, extra: str = "") -> None:
        if name not in seen:
            seen[name] = time.monotonic() - t0
            print(f"{seen[name]:7.1f} s  {name}{extra}", flush=True)

    try:
        token = ""
        while not token:
            found = re.findall(r"write token: (\S+)", out.read_text())
            token = found[-1] if found else ""
            if proc.poll() is not None:
                sys.exit(f"the demo exited:\n{out.read_text()}")
            time.sleep(0.5)
        mark("token")
        manifest = json.loads((home / "demo.json").read_text())
        ese_id = manifest["injected_ese"]["source_id"]
        n_groups = len(manifest["groups"])
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60.0,
        )
        goals = {"image", "light curve", "mosaic", "ESE candidate"}
        if args.until_done:
            goals.add("all groups")
        while not goals <= set(seen):
            if proc.poll() is not None:
                sys.exit(f"the demo exited:\n{out.read_text()}")
            if time.monotonic() - t0 > args.timeout_s:
                sys.exit(f"timed out; reached: {seen}")
            try:
                done = api.get("/groups", params={"state": "completed"}).json()["count"]
                if done and api.get("/images", params={"type": "pbcor"}).json()["count"]:
                    mark("image")
                lc = api.get(f"/sources/{ese_id}/lightcurve")
                if lc.status_code == 200 and len(lc.json()["points"]) >= 3:
                    mark("light curve")
                if api.get("/mosaics").json()["count"]:
                    mark("mosaic")
                flags = [
                    f
                    for f in ("rapid_change", "variability")
                    if api.get("/candidates", params={"source_id": ese_id, "flag_type": f}).json()[
                        "count"
                    ]
                ]
                if flags:
                    mark("ESE candidate", f" ({', '.join(flags)})")
                if done == n_groups:
                    mark("all groups", f" ({n_groups})")
            except httpx.TransportError:
                pass
            time.sleep(2.0)
        perf: dict[str, Any] = api.get("/performance/stages", params={"bin_s": 2592000}).json()
        api.close()
    finally:
        t_stop = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
        print(f"Ctrl-C -> stopped in {time.monotonic() - t_stop:.1f} s (exit {proc.returncode})")
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        print(f"home: {home} (output: {out})")
    print("mean stage times (s):", json.dumps(perf, indent=None)[:2000])


if __name__ == "__main__":
    main()
