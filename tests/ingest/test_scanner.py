"""Scans of real files on disk: stability, header checks, ignored files, timeouts,
the calibrator hook and the watcher."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator

import pytest

from contimg.config import Settings
from contimg.db.engine import Database
from contimg.db.queries import ingest as iq
from contimg.ingest import hooks
from contimg.ingest.scanner import Scanner, scan_once, watch
from tests.factories import write_group, write_tiny_uvh5


def state_of(db: Database, group_id: str) -> str | None:
    with db.read() as conn:
        return iq.group_state(conn, group_id=group_id)


def test_file_taken_only_once_its_size_is_stable(idb: Database, fast: Settings) -> None:
    cfg = fast.model_copy(update={"ingest": fast.ingest.model_copy(update={"settle_s": 10.0})})
    incoming = cfg.incoming_path
    incoming.mkdir(parents=True)
    path = write_tiny_uvh5(
        incoming / "2025-10-02T00:12:00_sb00.hdf5", timestamp="2025-10-02T00:12:00", subband_idx=0
    )
    clock = [1000.0]
    scanner = Scanner(idb, cfg, clock=lambda: clock[0])
    assert scanner.scan_directory(incoming).waiting == 1
    with path.open("ab") as fh:  # still being written
        fh.write(b"\0" * 100)
    clock[0] += 11
    r = scanner.scan_directory(incoming)
    assert r.waiting == 1 and not r.ingest.accepted  # size changed: the count restarts
    clock[0] += 5
    r = scanner.scan_directory(incoming)  # too soon after the last check: does not count
    assert r.waiting == 1 and not r.ingest.accepted
    clock[0] += 6
    r = scanner.scan_directory(incoming)
    assert r.ingest.accepted == [str(path)]
    assert state_of(idb, "2025-10-02T00:12:00") == "collecting"
    path.unlink()
    other = write_tiny_uvh5(
        incoming / "2025-10-02T00:12:00_sb01.hdf5", timestamp="2025-10-02T00:12:00", subband_idx=1
    )
    scanner.scan_directory(incoming)
    other.unlink()  # vanished before it was taken: forgotten
    clock[0] += 11
    assert scanner.recheck_waiting().vanished == 1
    assert scanner.recheck_waiting().vanished == 0


def test_backfill_scan_groups_files_and_logs_ignored_once(
    idb: Database, fast: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    incoming = fast.incoming_path
    write_group(incoming, "2025-10-02T00:12:00", jitter_s=[(i * 7) % 25 - 3 for i in range(16)])
    write_group(incoming, "2025-10-02T00:17:09", subbands=range(10))
    (incoming / "notes.txt").write_text("hello")
    (incoming / "2025-10-02T00:12:00_sb05.hdf5.part").write_text("x")
    (incoming / "subdir").mkdir()
    with caplog.at_level(logging.INFO, logger="contimg.ingest"):
        report = scan_once(idb, fast, incoming)
        again = scan_once(idb, fast, incoming)
    assert len(report.ingest.accepted) == 26
    assert report.ingest.became_pending == ["2025-10-02T00:11:57"]  # sb00 jittered by -3 s
    assert report.ignored_new == 2 and again.ignored_new == 0
    assert not again.ingest.accepted
    ignored = [r for r in caplog.records if r.getMessage().startswith("ignoring")]
    assert len(ignored) == 2  # once each, not on the second scan
    assert state_of(idb, "2025-10-02T00:17:09") == "collecting"


def test_corrupt_file_on_disk(idb: Database, fast: Settings) -> None:
    incoming = fast.incoming_path
    write_group(incoming, "2025-10-02T00:12:00", subbands=[s for s in range(16) if s != 4])
    bad = incoming / "2025-10-02T00:12:02_sb04.hdf5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 50)  # HDF5 signature, then nothing
    write_group(incoming, "2025-10-02T00:17:09")
    report = scan_once(idb, fast, incoming)
    assert report.ingest.rejected == [str(bad)]
    with idb.read() as conn:
        row = iq.group_row(conn, group_id="2025-10-02T00:12:00")
    assert row is not None and row.state == "failed"
    assert str(bad) in row.error_message
    assert state_of(idb, "2025-10-02T00:17:09") == "pending"


@pytest.mark.parametrize("policy", ["fail", "proceed"])
def test_incomplete_group_after_timeout(idb: Database, fast: Settings, policy: str) -> None:
    cfg = fast.model_copy(
        update={
            "ingest": fast.ingest.model_copy(
                update={"incomplete_policy": policy, "collect_timeout_s": 60}
            )
        }
    )
    write_group(
        cfg.incoming_path,
        "2025-10-02T00:12:00",
        subbands=[s for s in range(16) if s not in (3, 11)],
    )
    scan_once(idb, cfg, cfg.incoming_path)
    gid = "2025-10-02T00:12:00"
    assert state_of(idb, gid) == "collecting"
    later = Scanner(idb, cfg, clock=lambda: time.time() + 61)
    later.housekeeping()
    with idb.read() as conn:
        row = iq.group_row(conn, group_id=gid)
    assert row is not None
    assert "sb03, sb11" in row.error_message and "14 of 16" in row.error_message
    assert row.state == ("failed" if policy == "fail" else "pending")


def test_finalize_resolves_incomplete_groups_at_once(idb: Database, fast: Settings) -> None:
    write_group(fast.incoming_path, "2025-10-02T00:12:00", subbands=range(4))
    scan_once(idb, fast, fast.incoming_path, finalize=True)
    assert state_of(idb, "2025-10-02T00:12:00") == "failed"


@pytest.fixture
def matcher() -> Iterator[list[hooks.PendingGroup]]:
    seen: list[hooks.PendingGroup] = []

    def match(group: hooks.PendingGroup) -> list[str]:
        seen.append(group)
        return ["3C286"] if group.dec_deg is not None and group.dec_deg > 30 else []

    hooks.set_calibrator_matcher(match)
    yield seen
    hooks.set_calibrator_matcher(None)


def test_calibrator_hook_on_pending(
    idb: Database, fast: Settings, matcher: list[hooks.PendingGroup]
) -> None:
    write_group(fast.incoming_path, "2025-10-02T00:12:00", dec_deg=54.57)
    write_group(fast.incoming_path, "2025-10-02T00:17:09", dec_deg=16.3)
    scan_once(idb, fast, fast.incoming_path)
    assert [g.group_id for g in matcher] == ["2025-10-02T00:12:00", "2025-10-02T00:17:09"]
    first = matcher[0]
    assert first.dec_deg == pytest.approx(54.57)
    assert sorted(first.subband_paths) == list(range(16))
    assert first.start_jd is not None and first.end_jd is not None and first.start_jd < first.end_jd
    with idb.read() as conn:
        a = iq.group_row(conn, group_id="2025-10-02T00:12:00")
        b = iq.group_row(conn, group_id="2025-10-02T00:17:09")
    assert a is not None and b is not None
    assert (a.has_calibrator, json.loads(a.calibrators)) == (1, [{"name": "3C286"}])
    assert (b.has_calibrator, json.loads(b.calibrators)) == (0, [])


def test_failing_hook_leaves_calibrators_unchecked(idb: Database, fast: Settings) -> None:
    def broken(group: hooks.PendingGroup) -> list[str]:
        raise RuntimeError("catalog missing")

    hooks.set_calibrator_matcher(broken)
    try:
        write_group(fast.incoming_path, "2025-10-02T00:12:00")
        scan_once(idb, fast, fast.incoming_path)
    finally:
        hooks.set_calibrator_matcher(None)
    with idb.read() as conn:
        row = iq.group_row(conn, group_id="2025-10-02T00:12:00")
    assert row is not None and row.state == "pending" and row.has_calibrator is None


def test_hook_stores_full_records_and_refuses_nameless_ones(idb: Database, fast: Settings) -> None:
    def records(group: hooks.PendingGroup) -> list[dict[str, object]]:
        if group.group_id.endswith("00:12:00"):
            return [{"name": "3C286", "ra_deg": 202.7845, "flux_jy": 14.9, "sep_deg": 0.4}]
        return [{"ra_deg": 1.0}]  # no name: a matcher bug, not a calibrator

    hooks.set_calibrator_matcher(records)
    try:
        write_group(fast.incoming_path, "2025-10-02T00:12:00")
        write_group(fast.incoming_path, "2025-10-02T00:17:09")
        scan_once(idb, fast, fast.incoming_path)
    finally:
        hooks.set_calibrator_matcher(None)
    with idb.read() as conn:
        a = iq.group_row(conn, group_id="2025-10-02T00:12:00")
        b = iq.group_row(conn, group_id="2025-10-02T00:17:09")
    assert a is not None and b is not None
    assert a.has_calibrator == 1
    assert json.loads(a.calibrators) == [
        {"name": "3C286", "ra_deg": 202.7845, "flux_jy": 14.9, "sep_deg": 0.4}
    ]
    assert (b.state, b.has_calibrator, b.calibrators) == ("pending", None, None)


def test_matcher_from_setting() -> None:
    loaded = hooks.load_calibrator_matcher("tests.ingest.test_scanner:state_of")
    try:
        assert hooks.get_calibrator_matcher() is loaded
    finally:
        hooks.set_calibrator_matcher(None)
    with pytest.raises(Exception, match=r"package\.module:function"):
        hooks.load_calibrator_matcher("nocolon")


def test_watch_takes_files_as_they_land(idb: Database, fast: Settings) -> None:
    cfg = fast.model_copy(
        update={
            "ingest": fast.ingest.model_copy(update={"settle_s": 0.2, "rescan_interval_s": 1.0})
        }
    )
    incoming = cfg.incoming_path
    incoming.mkdir(parents=True)
    stop = threading.Event()
    thread = threading.Thread(target=watch, args=(idb, cfg, incoming), kwargs={"stop": stop})
    thread.start()
    try:
        time.sleep(0.5)
        write_group(incoming, "2025-10-02T00:12:00")
        deadline = time.monotonic() + 60
        while state_of(idb, "2025-10-02T00:12:00") != "pending" and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert state_of(idb, "2025-10-02T00:12:00") == "pending"
