"""The disk guard: a worker claims nothing while the products or scratch directory has
less free space than worker.min_free_gb, says why, and resumes by itself once the
space is there; the watcher keeps grouping every file meanwhile. The threshold is set
relative to the real free space (shutil.disk_usage), then lowered."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from contimg.config import Settings
from contimg.db.engine import Database, Databases
from contimg.db.queries import ingest as iq
from contimg.ingest import diskguard
from contimg.ingest.scanner import scan_once
from contimg.ingest.worker import Worker
from contimg.stages.base import StageContext, StageRegistry
from tests.factories import group_timestamps, write_group


class Done:
    name = "done"
    phase = "conversion"

    def __init__(self) -> None:
        self.groups: list[str] = []

    def run(self, ctx: StageContext) -> None:
        self.groups.append(ctx.group_id)


def _wait(cond, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_worker_pauses_below_threshold_and_resumes(
    fast: Settings, fdbs: Databases, idb: Database, tmp_path: Path
) -> None:
    fast.products_path.mkdir(parents=True, exist_ok=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    free_gb = min(shutil.disk_usage(fast.products_path).free, shutil.disk_usage(scratch).free) / 1e9
    cfg = fast.model_copy(
        update={
            "worker": fast.worker.model_copy(
                update={"min_free_gb": free_gb + 1000.0, "scratch_dir": scratch}
            )
        }
    )
    state = diskguard.check(cfg)
    assert state.paused and state.reason is not None
    assert f"products directory {cfg.products_path}" in state.reason
    assert f"scratch directory {scratch}" in state.reason

    stage = Done()
    reg = StageRegistry()
    reg.register(stage, order=1)  # type: ignore[arg-type]
    w = Worker(cfg, dbs=fdbs, registry=reg, worker_id="guarded")
    thread = threading.Thread(target=w.run, daemon=True)
    thread.start()
    try:
        # The watcher's side goes on while the worker waits: every file is grouped.
        incoming = tmp_path / "incoming"
        stamps = group_timestamps("2025-10-05T00:00:00", 3)
        for t in stamps:
            write_group(incoming, t)
        report = scan_once(idb, cfg, incoming, finalize=True)
        assert report.summary()
        assert _wait(lambda: w.paused_reason is not None)
        time.sleep(0.5)  # several polls
        with idb.read() as conn:
            assert iq.count_by_state(conn)["pending"] == 3
            assert all(iq.subband_count(conn, group_id=g) == 16 for g in stamps)
        assert stage.groups == []
        assert "below worker.min_free_gb" in (w.paused_reason or "")

        # Space "comes back": the threshold now lies below the free space.
        cfg.worker.min_free_gb = max(free_gb - 1.0, 0.0)
        assert _wait(lambda: len(stage.groups) == 3)
        assert w.paused_reason is None
        with idb.read() as conn:
            assert iq.count_by_state(conn)["completed"] == 3
        assert stage.groups == stamps  # oldest first, each once
    finally:
        w.stop.set()
        thread.join(10)
