"""One shortened, real ``contimg demo`` run, shared by the tests that need what the
real pipeline produces (tests/demo/test_demo_e2e.py and tests/ui/test_real_run.py,
through the session fixture ``demo_run`` of tests/conftest.py: it runs once).

The run (simulator, watcher, 3 workers, mosaic scheduler, API server: real
processes, real WSClean and DP3, PostgreSQL) covers three sidereal days of a short
schedule (each day: the calibrator's transit, then two science groups of the same
strip). It is started from one working directory with a RELATIVE ``--home``, so
every path it stores must be absolute to be found from anywhere else (issue 19):

1. run until some groups are completed with images, then Ctrl-C (SIGINT) while the
   others are being processed; what that left behind is recorded in ``phase1``;
2. the same command resumes and runs until the injected ESE source has a light curve
   of several epochs and is a candidate, a mosaic is built and every group is
   completed; the resumed demo is left running (``DemoRun.demo``) for the tests to
   read through its API and stop.
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
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from contimg.config import get_settings
from contimg.db.engine import Databases
from contimg.db.ingest import ingest_queue

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
    """One ``contimg demo`` process started in ``cwd`` with ``--home home_arg`` (relative
    to ``cwd``), its output in a file."""

    def __init__(self, cwd: Path, home_arg: str, pg_url: str, out: Path) -> None:
        self.cwd = cwd
        self.home_arg = home_arg
        self.home = (cwd / home_arg).resolve()
        self.stopped = False
        self.port = free_port()
        argv = [
            CONTIMG, "--home", home_arg, "--database-url", pg_url, "demo",
            "--days", str(DAYS), "--science-groups", str(SCIENCE_GROUPS),
            "--workers", str(WORKERS), "--pace", "0", "--preset", "ci",
            "--port", str(self.port),
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTIMG_")}
        env.update(CONTIMG_API__REQUIRE_TOKEN_FOR_READS="true", OPENBLAS_NUM_THREADS="1")
        self.out = out
        self.proc = subprocess.Popen(
            argv, cwd=cwd, stdout=out.open("ab"), stderr=subprocess.STDOUT, env=env
        )
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
            assert self.alive(), f"the demo exited while waiting for {what}:\n{self.tail()}"
            try:
                if cond():
                    return
                guard = self.get("/status").get("disk_guard") or {}
                assert not guard.get("paused"), (
                    f"{what}: the disk guard holds the demo's workers: {guard.get('reason')}"
                )
            except httpx.TransportError:
                pass  # the server is still starting
            assert time.monotonic() < deadline, f"{what}: not reached\n{self.tail()}"
            time.sleep(3.0)

    def ctrl_c(self) -> None:
        self.api.close()
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=120)
        assert self.proc.returncode == 0, self.tail()
        self.stopped = True

    def cleanup(self) -> None:
        """After a failure: stop the demo as Ctrl-C would, then kill what is left of
        this run's processes (a killed supervisor would leave its children running)."""
        if self.stopped:
            return
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid, _ in processes_using(self.home, self.home_arg):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.stopped = True

    def tail(self) -> str:
        return "\n".join(self.out.read_text().splitlines()[-30:])


def processes_using(home: Path, *also: str) -> list[tuple[int, str]]:
    """Live processes (pid, command line) that mention the demo home (absolute, or one
    of the unique relative spellings in ``also``)."""
    marks = [str(home), *also]
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = (proc / "status").read_text()
        except OSError:
            continue
        if any(m in cmd for m in marks) and "zombie" not in status.lower():
            found.append((int(proc.name), cmd))
    return found


def queue_rows(home: Path, pg_url: str) -> list[dict[str, Any]]:
    dbs = Databases(get_settings(home=home, database_url=pg_url))
    try:
        with dbs.ingest.read() as conn:
            return [dict(r) for r in conn.execute(sa.select(ingest_queue)).mappings()]
    finally:
        dbs.dispose()


@dataclass
class DemoRun:
    cwd: Path
    home: Path
    pg_url: str
    out: Path
    manifest: dict[str, Any]
    demo: Demo
    phase1: dict[str, Any] = field(default_factory=dict)


def run_demo(root: Path, pg_url: str) -> DemoRun:
    """Both phases of the run (see the module text); the resumed demo is left running."""
    cwd = root / "started-here"
    cwd.mkdir(parents=True)
    home_arg = f"demo-{uuid.uuid4().hex[:8]}"  # relative, and unique in command lines
    out = root / "demo.out"
    demo = Demo(cwd, home_arg, pg_url, out)
    home = demo.home
    try:
        manifest = json.loads((home / "demo.json").read_text())
        demo.wait("the API", lambda: demo.get("/health") is not None)
        anonymous = httpx.get(f"http://127.0.0.1:{demo.port}/api/v1/status").status_code

        def done_with_images() -> bool:
            done = demo.get("/groups", state="completed")["count"]
            return bool(done >= 1 and demo.get("/images", type="pbcor")["count"] >= done)

        demo.wait("completed groups with images", done_with_images)
        demo.ctrl_c()  # while the other groups are being processed
    finally:
        demo.cleanup()
    phase1 = {
        "anonymous_status": anonymous,
        "processes": processes_using(home, home_arg),
        "output": out.read_text(),
        "rows": queue_rows(home, pg_url),
        "worker_logs": "".join(p.read_text() for p in (home / "logs").glob("worker-*.log")),
    }
    demo = Demo(cwd, home_arg, pg_url, out)
    try:
        ese_id = manifest["injected_ese"]["source_id"]

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
    except BaseException:
        demo.cleanup()
        raise
    return DemoRun(cwd, home, pg_url, out, manifest, demo, phase1)
