"""Stopping workers cleanly, with real processes and real signals.

A worker runs a stage whose external tool sleeps (as WSClean or DP3 would run);
stopping it must return the group to the queue without counting an attempt, and the
signal must reach the worker, not its tool.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from contimg.config import Settings
from contimg.db.engine import Database
from contimg.db.queries import ingest as iq
from contimg.supervisor import Child, Supervisor
from tests import helpers
from tests.conftest import init_databases
from tests.factories import queue_pending_groups

pytestmark = pytest.mark.timeout(300)

CONTIMG = str(Path(sys.executable).parent / "contimg")


def worker_env(settings: Settings, record: Path) -> dict[str, str]:
    return helpers.worker_env(settings, record, stage_module="tests.demo.stages_for_shutdown")


def wait_for(cond: Callable[[], bool], what: str, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 120
    while not cond():
        assert alive(), f"the worker exited before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "zombie" in status.read_text().lower()


def group(db: Database, group_id: str) -> dict[str, object]:
    with db.read() as conn:
        row = iq.group_row(conn, group_id=group_id)
    assert row is not None
    return dataclasses.asdict(row)


def finish_with_a_second_worker(settings: Settings, record: Path, db: Database, gid: str) -> None:
    """The returned group is claimed again and completes, still with no attempt counted."""
    again = subprocess.run(
        [CONTIMG, "worker", "--drain", "--worker-id", "second"],
        env=worker_env(settings, record), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    row = group(db, gid)
    assert row["state"] == "completed" and row["retry_count"] == 0, row


def test_supervisor_stop_returns_the_group_unfinished(settings: Settings, tmp_path: Path) -> None:
    dbs = init_databases(settings)
    (gid,) = queue_pending_groups(dbs.ingest, 1)
    record = tmp_path / "record"
    record.mkdir()
    worker = Child("worker-1", [CONTIMG, "worker", "--worker-id", "w1"],
                   env=worker_env(settings, record))  # fmt: skip
    sup = Supervisor([worker], log_dir=tmp_path / "logs")
    sup.start()
    try:
        wait_for(lambda: (record / "tool.pid").exists(), "the tool started",
                 lambda: worker.proc is not None and worker.proc.poll() is None)  # fmt: skip
        tool_pid = int((record / "tool.pid").read_text())
        assert group(dbs.ingest, gid)["state"] == "processing_fresh"
    finally:
        sup.stop(timeout_s=60)
    assert worker.proc is not None and worker.proc.returncode == 0  # exited, not killed
    assert gone(tool_pid)
    assert not (record / "tool.sigterm").exists(), "the supervisor signalled the worker's tool"
    row = group(dbs.ingest, gid)
    assert row["state"] == "pending" and row["retry_count"] == 0, row
    assert row["lease_owner"] is None
    assert "SIGTERM" in str(row["error_message"]) and "returned to the queue" in str(
        row["error_message"]
    )
    log = (tmp_path / "logs" / "worker-1.log").read_text()
    assert "1 returned unfinished at shutdown" in log and "0 failed" in log
    finish_with_a_second_worker(settings, record, dbs.ingest, gid)
    dbs.dispose()


def test_ctrl_c_to_the_process_group(settings: Settings, tmp_path: Path) -> None:
    """Ctrl-C in a terminal signals the worker AND its tool: the tool's death is no
    failure of the group either."""
    dbs = init_databases(settings)
    (gid,) = queue_pending_groups(dbs.ingest, 1)
    record = tmp_path / "record"
    record.mkdir()
    proc = subprocess.Popen(
        [CONTIMG, "worker", "--worker-id", "w1"], env=worker_env(settings, record),
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(lambda: (record / "tool.pid").exists(), "the tool started",
                 lambda: proc.poll() is None)  # fmt: skip
        tool_pid = int((record / "tool.pid").read_text())
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    assert gone(tool_pid)
    row = group(dbs.ingest, gid)
    assert row["state"] == "pending" and row["retry_count"] == 0, (row, err)
    assert "returned to the queue" in str(row["error_message"])
    assert "1 returned unfinished at shutdown" in err
    finish_with_a_second_worker(settings, record, dbs.ingest, gid)
    dbs.dispose()
