"""``contimg demo``, shortened and headless, on PostgreSQL with three workers.

One real run of the command (simulator, watcher, 3 workers, mosaic scheduler, API
server: real processes, real WSClean and DP3) over three sidereal days of a short
schedule (each day: the calibrator's transit, then two science groups of the same
strip). Checked through the HTTP API with the printed token:

* groups complete with images; then Ctrl-C (SIGINT) while the other groups are
  being processed stops every process, and no group is left held or counted as a
  failed attempt (those in progress go back to the queue);
* the same command resumes: the injected ESE source gets a light curve of several
  epochs, a mosaic is built, the injected source becomes an ESE candidate under the
  pipeline's own (unchanged) rules, and the whole stream completes;
* scale-out: the three workers share the PostgreSQL queue, and every group of the
  stream is completed exactly once.

Skipped without PostgreSQL (``CONTIMG_TEST_PG_URL``) unless ``CONTIMG_REQUIRE_PG=1``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from contimg.config import get_settings
from contimg.db.engine import Databases
from contimg.db.ingest import ingest_queue
from tests.conftest import drop_pg_schemas

pytestmark = [pytest.mark.slow, pytest.mark.tools, pytest.mark.postgres, pytest.mark.timeout(3000)]

CONTIMG = str(Path(sys.executable).parent / "contimg")
DAYS, SCIENCE_GROUPS, WORKERS = 3, 2, 3
N_GROUPS = DAYS * (1 + SCIENCE_GROUPS)
WAIT_S = 2400.0
"""Give up waiting for the demo after this long (a safety net, not a performance bound:
the figures are measured by benchmarks/demo_bench.py)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Demo:
    """One ``contimg demo`` process, its output in a file."""

    def __init__(self, home: Path, pg_url: str, out: Path) -> None:
        self.home = home
        self.stopped = False
        self.port = free_port()
        argv = [
            CONTIMG, "--home", str(home), "--database-url", pg_url, "demo",
            "--days", str(DAYS), "--science-groups", str(SCIENCE_GROUPS),
            "--workers", str(WORKERS), "--pace", "0", "--preset", "ci",
            "--port", str(self.port),
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTIMG_")}
        env.update(CONTIMG_API__REQUIRE_TOKEN_FOR_READS="true", OPENBLAS_NUM_THREADS="1")
        self.out = out
        self.proc = subprocess.Popen(argv, stdout=out.open("ab"), stderr=subprocess.STDOUT, env=env)
        self.token = self._token()
        self.api = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}/api/v1",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60.0,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _token(self) -> str:
        deadline = time.monotonic() + 600
        while True:
            found = re.findall(r"write token: (\S+)", self.out.read_text())
            if found:
                return str(found[-1])
            assert self.alive(), self.out.read_text()
            assert time.monotonic() < deadline, "the demo never printed its token"
            time.sleep(0.5)

    def get(self, path: str, **params: Any) -> Any:
        r = self.api.get(path, params=params)
        r.raise_for_status()
        return r.json()

    def wait(self, what: str, cond: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_S
        while True:
            assert self.alive(), f"the demo exited while waiting for {what}:\n{self._tail()}"
            try:
                if cond():
                    return
            except httpx.TransportError:
                pass  # the server is still starting
            assert time.monotonic() < deadline, f"{what}: not reached\n{self._tail()}"
            time.sleep(3.0)

    def ctrl_c(self) -> None:
        self.api.close()
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=120)
        assert self.proc.returncode == 0, self._tail()
        self.stopped = True

    def cleanup(self) -> None:
        """After a failure: stop the demo as Ctrl-C would, then kill what is left of
        this test's processes (a killed supervisor would leave its children running)."""
        if self.stopped:
            return
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid, _ in processes_using(self.home):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _tail(self) -> str:
        return "\n".join(self.out.read_text().splitlines()[-30:])


def processes_using(home: Path) -> list[tuple[int, str]]:
    """Live processes (pid, command line) that mention the demo home."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = (proc / "status").read_text()
        except OSError:
            continue
        if str(home) in cmd and "zombie" not in status.lower():
            found.append((int(proc.name), cmd))
    return found


def queue_rows(home: Path, pg_url: str) -> list[dict[str, Any]]:
    dbs = Databases(get_settings(home=home, database_url=pg_url))
    try:
        with dbs.ingest.read() as conn:
            return [dict(r) for r in conn.execute(sa.select(ingest_queue)).mappings()]
    finally:
        dbs.dispose()


def test_shortened_demo(pg_url: str, tmp_path: Path) -> None:
    drop_pg_schemas(pg_url)
    home = tmp_path / "demo"
    out = tmp_path / "demo.out"
    demo = Demo(home, pg_url, out)
    try:
        manifest = json.loads((home / "demo.json").read_text())
        ese_id = manifest["injected_ese"]["source_id"]
        assert len(manifest["groups"]) == N_GROUPS

        # Reads need the token here (api.require_token_for_reads): the printed one works.
        demo.wait("the API", lambda: demo.get("/health") is not None)
        assert httpx.get(f"http://127.0.0.1:{demo.port}/api/v1/status").status_code == 401

        def done_with_images() -> bool:
            done = demo.get("/groups", state="completed")["count"]
            return bool(done >= 1 and demo.get("/images", type="pbcor")["count"] >= done)

        demo.wait("completed groups with images", done_with_images)
        # Ctrl-C while the other groups are being processed.
        demo.ctrl_c()
    finally:
        demo.cleanup()

    # Ctrl-C stopped every process; no group is left held or counted as failed, and
    # the groups the workers were processing went back to the queue.
    assert processes_using(home) == []
    assert "stopped; run the same command again to resume" in out.read_text()
    rows = queue_rows(home, pg_url)
    assert {r["state"] for r in rows} <= {"completed", "pending", "collecting"}, rows
    assert all(r["retry_count"] == 0 and r["lease_owner"] is None for r in rows), rows
    assert sum(r["state"] == "completed" for r in rows) < N_GROUPS, "nothing left to resume"
    logs = "".join(p.read_text() for p in (home / "logs").glob("worker-*.log"))
    assert "returned to the queue" in logs, "no group was in progress at Ctrl-C"

    # The same command resumes: the rest of what the dashboard should show.
    demo = Demo(home, pg_url, out)
    try:

        def light_curve_epochs() -> bool:
            r = demo.api.get(f"/sources/{ese_id}/lightcurve")
            return r.status_code == 200 and len(r.json()["points"]) >= 3

        demo.wait("a light curve of 3 epochs", light_curve_epochs)
        demo.wait("a mosaic", lambda: demo.get("/mosaics")["count"] >= 1)
        demo.wait(
            "the injected ESE source among the candidates",
            lambda: demo.get("/candidates", source_id=ese_id)["count"] >= 1,
        )
        demo.wait(
            f"all {N_GROUPS} groups completed",
            lambda: demo.get("/groups", state="completed")["count"] == N_GROUPS,
        )
        mosaic = demo.get("/mosaics")["data"][0]
        thumb = demo.api.get(f"/mosaics/{mosaic['id']}/thumbnail.png")
        assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")
        groups = demo.get("/groups", limit=100)["data"]
        assert len(groups) == N_GROUPS
        assert {g["group_id"] for g in groups} == {g["group_id"] for g in manifest["groups"]}
        assert all(g["state"] == "completed" and g["retry_count"] == 0 for g in groups), groups
        assert demo.get("/images", type="pbcor")["count"] == N_GROUPS
        assert demo.get("/performance/metrics")["count"] == N_GROUPS

        # The light curve: steady on days 1-2, the dip from day 3 (truth: -45 %).
        points = demo.get(f"/sources/{ese_id}/lightcurve")["points"]
        dip = manifest["injected_ese"]["dip_starts_mjd"]
        good = [p for p in points if not p["flags"] & 16]  # normalised
        before = [p["flux_mjy"] for p in good if p["mjd"] < dip]
        during = [p["flux_mjy"] for p in good if p["mjd"] > dip]
        assert len(points) >= 2 * SCIENCE_GROUPS + 2 and before and during, points
        assert max(during) < 0.75 * min(before), points

        candidates = demo.get("/candidates", source_id=ese_id)
        automatic = sum(
            demo.get("/candidates", source_id=ese_id, flag_type=flag)["count"]
            for flag in ("variability", "rapid_change")
        )
        assert automatic == candidates["count"] >= 1
        first = candidates["data"][0]
        assert first["status"] == "active" and first["max_sigma_dev"] > 0
        # The printed token is the write token: a triage note is accepted with it only.
        note = {"note": "seen in the demo test", "author": "test"}
        path = f"/candidates/{first['id']}/notes"
        assert demo.api.post(path, json=note).status_code in (200, 201)
        anonymous = httpx.post(f"http://127.0.0.1:{demo.port}/api/v1{path}", json=note)
        assert anonymous.status_code == 401
        demo.ctrl_c()
    finally:
        demo.cleanup()
    assert processes_using(home) == []

    # Scale-out: three workers shared the work; every group was completed exactly once.
    completions: Counter[str] = Counter()
    by_worker: Counter[str] = Counter()
    for i in range(1, WORKERS + 1):
        for line in (home / "logs" / f"worker-{i}.log").read_text().splitlines():
            m = re.search(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d): completed in ", line)
            if m:
                completions[m.group(1)] += 1
                by_worker[f"worker-{i}"] += 1
    assert completions == Counter({g["group_id"]: 1 for g in manifest["groups"]}), completions
    assert len(by_worker) >= 2, by_worker
