"""``contimg reprocess``: an archive queued again without the watcher, with a setting
for this run only, taken by two real worker processes sharing the database (both
backends; on PostgreSQL as workers on several machines would); earlier products kept
unless --replace; bad input refused with nothing changed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from contimg.config import Settings
from contimg.db.engine import Database
from contimg.db.ingest import ingest_queue, reprocess_requests
from contimg.db.queries import ingest as iq
from contimg.db.queries.ingest import reprocess as rq
from contimg.errors import ContimgError
from contimg.ingest import reprocess as rp
from tests import helpers
from tests.factories import group_timestamps, queue_pending_groups, write_group

CONTIMG = str(Path(sys.executable).parent / "contimg")
STAGES = "tests.ingest.stages_for_reprocess"


def _env(cfg: Settings, record: Path, **extra: str) -> dict[str, str]:
    return helpers.worker_env(cfg, record, stage_module=STAGES, **extra)


def _cli(cfg: Settings, record: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CONTIMG, *args], env=_env(cfg, record), capture_output=True, text=True, timeout=120
    )


def _workers(cfg: Settings, record: Path, n: int) -> list[str]:
    env = _env(cfg, record, CONTIMG_TEST_STAGE_SLEEP_S="0.3")
    procs = [
        subprocess.Popen(
            [CONTIMG, "worker", "--drain", "--worker-id", f"w{i}"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    outs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * n, outs
    return outs


def _events(record: Path) -> list[tuple[str, str, str]]:
    path = record / "events.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [tuple(line.split()) for line in lines]  # type: ignore[misc]


def _states(db: Database) -> dict[str, str]:
    with db.read() as conn:
        return dict(conn.execute(sa.select(ingest_queue.c.group_id, ingest_queue.c.state)).all())


def _snapshot(db: Database) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with db.read() as conn:
        q = sorted(tuple(r) for r in conn.execute(sa.select(ingest_queue)).all())
        r = sorted(tuple(r) for r in conn.execute(sa.select(reprocess_requests)).all())
    return q, r


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_reprocess_a_time_range_with_two_workers(
    fast: Settings, idb: Database, tmp_path: Path
) -> None:
    record = tmp_path / "record"
    record.mkdir()
    ids = queue_pending_groups(idb, 8)
    _workers(fast, record, 1)  # the first run, with the default robust
    assert set(_states(idb).values()) == {"completed"}
    first_run = _events(record)
    assert {r for _, _, r in first_run} == {"0"}
    (record / "events.log").unlink()

    # Reprocess the middle six with another robust; the outer two stay as they are.
    proc = _cli(
        fast,
        record,
        "reprocess",
        "--start",
        ids[1],
        "--end",
        ids[6],
        "--set",
        "imaging.robust=0.5",
        "--tag",
        "robust05",
    )
    assert proc.returncode == 0, proc.stderr
    assert "robust05: 6 groups queued again, 0 already waiting" in proc.stdout
    states = _states(idb)
    assert [states[g] for g in ids] == ["completed"] + ["pending"] * 6 + ["completed"]

    # Progress while nothing runs, then two workers share the run.
    prog = subprocess.Popen(
        [
            CONTIMG,
            "reprocess",
            "--start",
            ids[1],
            "--end",
            ids[6],
            "--tag",
            "robust05b",
            "--set",
            "imaging.robust=0.5",
            "--follow",
            "--interval",
            "0.2",
        ],
        env=_env(fast, record),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert prog.stdout is not None
    queued_line = prog.stdout.readline()  # queued: now the workers may start
    assert "robust05b: 0 groups queued again, 6 already waiting or running" in queued_line
    time.sleep(0.5)
    _workers(fast, record, 2)
    _, err = prog.communicate(timeout=120)
    assert prog.returncode == 0, err
    assert "robust05b: 6/6 completed, 0 failed" in err and "0/6 completed" in err

    evs = _events(record)
    done = Counter(g for g, _, _ in evs)
    assert done == Counter(ids[1:7])  # each exactly once, nothing else redone
    assert {r for _, _, r in evs} == {"0.5"}  # the run's setting, in every worker
    assert len({pid for _, pid, _ in evs}) == 2  # both workers took part
    assert set(_states(idb).values()) == {"completed"}
    with idb.read() as conn:
        rows = conn.execute(sa.select(reprocess_requests)).mappings().all()
    assert len(rows) == 6 and all(r["done_at"] is not None for r in rows)
    assert {r["run_tag"] for r in rows} == {"robust05b"}

    # Earlier products kept (the first run's, robust 0), new ones in place.
    prod = fast.products_path
    for g in ids[1:7]:
        assert (prod / g / "product.txt").read_text() == "robust=0.5\n"
        assert (prod / "previous" / "robust05b" / g / "product.txt").read_text() == "robust=0\n"
    assert (prod / ids[0] / "product.txt").read_text() == "robust=0\n"
    assert not (prod / "previous" / "robust05b" / ids[0]).exists()

    # --replace overwrites in place.
    (record / "events.log").unlink()
    proc = _cli(
        fast, record, "reprocess", "--start", ids[7], "--end", ids[7], "--replace", "--tag", "again"
    )
    assert proc.returncode == 0, proc.stderr
    _workers(fast, record, 1)
    assert [g for g, _, _ in _events(record)] == [ids[7]]
    assert not (prod / "previous" / "again").exists()
    assert (prod / ids[7] / "product.txt").read_text() == "robust=0\n"


@pytest.mark.slow
def test_reprocess_an_archive_directory_without_the_watcher(
    fast: Settings, idb: Database, tmp_path: Path
) -> None:
    """New files of an archive become groups and are queued; the scan is the only reader."""
    record = tmp_path / "record"
    record.mkdir()
    archive = tmp_path / "archive"
    stamps = group_timestamps("2025-11-03T10:00:00", 3)
    for t in stamps:
        write_group(archive, t)
    proc = _cli(fast, record, "reprocess", str(archive), "--tag", "arch")
    assert proc.returncode == 0, proc.stderr
    assert "arch: 0 groups queued again, 3 already waiting" in proc.stdout
    assert "files" in proc.stderr  # the scan's progress
    assert _states(idb) == dict.fromkeys(stamps, "pending")
    _workers(fast, record, 2)
    assert sorted(g for g, _, _ in _events(record)) == stamps
    # Again, with a time range inside the archive: only that group.
    proc = _cli(
        fast,
        record,
        "reprocess",
        str(archive),
        "--start",
        stamps[1],
        "--end",
        stamps[1],
        "--tag",
        "one",
    )
    assert proc.returncode == 0, proc.stderr
    assert "one: 1 groups queued again" in proc.stdout
    assert _states(idb)[stamps[1]] == "pending"


def test_a_request_from_queueing_to_done(fast: Settings, idb: Database, tmp_path: Path) -> None:
    """In one process: selection, queueing (finished groups reset, others keep their
    place), the worker's side (overrides, earlier products moved aside once), progress."""
    ids = queue_pending_groups(idb, 3)
    with idb.write() as conn:
        iq.set_state(conn, group_id=ids[0], state="completed", now=1.0)
        iq.set_state(conn, group_id=ids[1], state="failed", now=1.0)
    with idb.read() as conn:
        assert rq.groups_in_range(conn, start=ids[1], end=None) == ids[1:]
        assert rq.groups_in_range(conn, start=None, end=ids[0]) == ids[:1]
        assert rq.groups_under(conn, directory=Path("/nonexistent")) == ids
        assert rq.groups_under(conn, directory=Path("/nonexist")) == []  # a directory, not a prefix
        assert rq.groups_under(conn, directory=Path("/non_xistent")) == []  # _ is no wildcard
    with pytest.raises(ContimgError, match="no group 2030-01-01T00:00:00 in the ingest queue"):
        rp.enqueue(idb, group_ids=["2030-01-01T00:00:00"], run_tag="t", overrides={},
                   keep_previous=True)  # fmt: skip
    report = rp.enqueue(
        idb,
        group_ids=ids,
        run_tag="t",
        overrides={"imaging": {"robust": "0.5"}},
        keep_previous=True,
        now=5.0,
    )
    assert (report.queued, report.already_queued) == (ids[:2], ids[2:])
    with idb.read() as conn:
        row = iq.group_row(conn, group_id=ids[0])
    assert row is not None
    assert (row.state, row.retry_count, row.last_update) == ("pending", 0, 5.0)
    assert row.error_message == "queued again by contimg reprocess (t)"
    assert rp.progress(idb, run_tag="t") == {"pending": 3}

    workdir = tmp_path / "work" / ids[0]
    workdir.mkdir(parents=True)
    (workdir / "product.txt").write_text("first\n")
    cfg = rp.prepare(fast, idb, group_id=ids[0], workdir=workdir)
    assert cfg.imaging.robust == 0.5 and fast.imaging.robust != 0.5
    kept = fast.products_path / "previous" / "t" / ids[0] / "product.txt"
    assert kept.read_text() == "first\n" and not workdir.exists()
    with idb.read() as conn:
        req = rq.open_request(conn, group_id=ids[0])
    assert req is not None and req.started_at is not None and req.done_at is None
    assert (req.run_tag, req.overrides, req.keep_previous) == (
        "t",
        {"imaging": {"robust": "0.5"}},
        True,
    )
    workdir.mkdir()
    (workdir / "product.txt").write_text("second\n")
    rp.prepare(fast, idb, group_id=ids[0], workdir=workdir)  # started: nothing moved again
    assert (workdir / "product.txt").read_text() == "second\n"
    rp.finish(idb, group_id=ids[0])
    with idb.read() as conn:
        assert rq.open_request(conn, group_id=ids[0]) is None
    assert rp.prepare(fast, idb, group_id=ids[0], workdir=workdir) is fast


def test_bad_input_changes_nothing(fast: Settings, idb: Database, tmp_path: Path) -> None:
    record = tmp_path / "record"
    record.mkdir()
    ids = queue_pending_groups(idb, 3)
    with idb.write() as conn:
        for g in ids:
            iq.set_state(conn, group_id=g, state="completed", now=1.0)
    before = _snapshot(idb)
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (
            ["--start", "2030-01-01", "--end", "2030-01-02"],
            "no groups between 2030-01-01T00:00:00 and 2030-01-02T00:00:00 in the ingest queue",
        ),
        ([str(empty)], f"no subband files (*.hdf5) in {empty}; nothing queued"),
        ([str(tmp_path / "missing")], f"{tmp_path / 'missing'} is not a directory"),
        (
            ["--start", ids[0], "--set", "imaging.robustness=1"],
            "imaging has no setting 'robustness'",
        ),
        (["--start", ids[0], "--set", "imaging.niter=lots"], "imaging.niter='lots'"),
        (["--start", ids[0], "--set", "worker.lease_s=1"], "only calibration, imaging, photometry"),
        (["--start", ids[2], "--end", ids[0]], "is after --end"),
        ([], "name an archive DIRECTORY"),
    ]
    for args, message in cases:
        proc = _cli(fast, record, "reprocess", *args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert _snapshot(idb) == before, args


def test_unreachable_postgres_and_missing_state_dir(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTIMG_")}
    home = tmp_path / "home"
    for extra, message in (
        (
            ["--database-url", "postgresql+psycopg://contimg@127.0.0.1:1/archive"],
            "cannot reach the PostgreSQL database postgresql+psycopg://contimg@127.0.0.1:1/archive",
        ),
        ([], f"the state directory {home / 'state'} does not exist"),
    ):
        proc = subprocess.run(
            [CONTIMG, "--home", str(home), *extra, "reprocess", "--start", "2025-01-01"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr
        assert not home.exists()
