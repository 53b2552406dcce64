"""Real worker processes (``contimg worker``) sharing one queue, on both backends."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from contimg.config import Settings
from contimg.db.engine import Database
from contimg.db.ingest import performance_metrics, subband_files
from contimg.db.queries import ingest as iq
from tests import helpers
from tests.factories import queue_pending_groups

CONTIMG = [str(Path(sys.executable).parent / "contimg")]


def worker_env(cfg: Settings, record_dir: Path, **extra: str) -> dict[str, str]:
    return helpers.worker_env(
        cfg, record_dir, stage_module="tests.ingest.stages_for_tests", **extra
    )


def events(record_dir: Path) -> list[tuple[str, str, str]]:
    path = record_dir / "events.log"
    if not path.exists():
        return []
    return [tuple(line.split()) for line in path.read_text().splitlines()]  # type: ignore[misc]


def counts(db: Database) -> tuple[dict[str, int], int]:
    with db.read() as conn:
        n_perf = conn.execute(
            sa.select(sa.func.count()).select_from(performance_metrics)
        ).scalar_one()
        return iq.count_by_state(conn), int(n_perf)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_four_workers_process_each_group_exactly_once(
    fast: Settings, idb: Database, tmp_path: Path
) -> None:
    ids = queue_pending_groups(idb, 200)
    record = tmp_path / "record"
    record.mkdir()
    env = worker_env(fast, record, CONTIMG_TEST_STAGE_SLEEP_S="0.02")
    procs = [
        subprocess.Popen(
            [*CONTIMG, "worker", "--drain", "--worker-id", f"w{i}"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outputs = [p.communicate(timeout=500)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    done = Counter(g for ev, g, _ in events(record) if ev == "done")
    started = Counter(g for ev, g, _ in events(record) if ev == "start")
    assert set(done) == set(ids)
    assert set(done.values()) == {1} and set(started.values()) == {1}  # exactly once
    workers = {pid for ev, _, pid in events(record) if ev == "done"}
    assert len(workers) >= 2, outputs  # the work was shared
    by_state, n_perf = counts(idb)
    assert by_state["completed"] == 200 and n_perf == 200


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkill_mid_group_loses_nothing(fast: Settings, idb: Database, tmp_path: Path) -> None:
    ids = queue_pending_groups(idb, 3)
    victim_group = ids[0]
    record = tmp_path / "record"
    record.mkdir()
    env = worker_env(
        fast,
        record,
        CONTIMG_TEST_SLOW_GROUP=victim_group,
        CONTIMG_WORKER__LEASE_S="3",
        CONTIMG_WORKER__HEARTBEAT_S="0.5",
    )
    victim = subprocess.Popen(
        [*CONTIMG, "worker", "--worker-id", "victim"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while ("sleeping", victim_group) not in {(e, g) for e, g, _ in events(record)}:
            assert victim.poll() is None, victim.communicate()[1]
            assert time.monotonic() < deadline, "the worker never started the group"
            time.sleep(0.1)
        with idb.read() as conn:
            row = iq.group_row(conn, group_id=victim_group)
        assert row is not None and row.state == "in_progress" and row.lease_owner == "victim"
        time.sleep(1.2)  # a couple of heartbeats went by
        with idb.read() as conn:
            renewed = iq.group_row(conn, group_id=victim_group)
        assert renewed is not None and renewed.heartbeat_at > row.heartbeat_at
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    rescuer = subprocess.run(
        [*CONTIMG, "worker", "--drain", "--worker-id", "rescuer"],
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert rescuer.returncode == 0, rescuer.stderr
    assert "lease of victim expired" in rescuer.stderr
    by_state, n_perf = counts(idb)
    assert by_state["completed"] == 3 and n_perf == 3
    done = Counter(g for ev, g, _ in events(record) if ev == "done")
    assert done == Counter({g: 1 for g in ids})
    with idb.read() as conn:
        row = iq.group_row(conn, group_id=victim_group)
        n_sub = conn.execute(
            sa.select(sa.func.count())
            .select_from(subband_files)
            .where(subband_files.c.group_id == victim_group)
        ).scalar_one()
    assert row is not None and row.retry_count == 1 and row.error_message is None
    assert n_sub == 16
    products = sorted(
        p.name for p in (fast.products_path / victim_group).iterdir() if not p.name.startswith(".")
    )
    assert products == ["product.txt"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_watch_command_until_sigterm(fast: Settings, idb: Database, tmp_path: Path) -> None:
    from tests.factories import write_group

    incoming = fast.incoming_path
    incoming.mkdir(parents=True, exist_ok=True)
    env = worker_env(
        fast, tmp_path, CONTIMG_INGEST__SETTLE_S="0.3", CONTIMG_INGEST__RESCAN_INTERVAL_S="2"
    )
    proc = subprocess.Popen(
        [*CONTIMG, "ingest", "watch"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(1.0)
        write_group(incoming, "2025-10-02T00:12:00")
        (incoming / "README").write_text("not a subband file")
        deadline = time.monotonic() + 120
        while True:
            with idb.read() as conn:
                if iq.group_state(conn, group_id="2025-10-02T00:12:00") == "pending":
                    break
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the watcher never made the group pending"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "group 2025-10-02T00:12:00 complete: pending" in err
    assert err.count("ignoring") == 1 and "README" in err
