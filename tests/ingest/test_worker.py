"""The worker in-process: stage order and states, metrics, failures, backoff, deferral,
lost leases, manual retry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from contimg.config import Settings
from contimg.db.engine import Database, Databases
from contimg.db.ingest import ingest_queue, performance_metrics
from contimg.db.queries import ingest as iq
from contimg.ingest.queue import retry_group
from contimg.ingest.worker import Worker
from contimg.stages.base import Phase, StageContext, StageDeferred, StageRegistry
from tests.factories import queue_pending_groups


@dataclass
class Probe:
    """A stage that records the group's state while it runs, and can fail or defer."""

    name: str
    phase: Phase
    db: Database
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)
    fail_times: int = 0
    defer: bool = False
    timing: tuple[str, float] | None = None

    def run(self, ctx: StageContext) -> None:
        with self.db.read() as conn:
            self.seen.append((self.name, ctx.group_id, iq.group_state(conn, group_id=ctx.group_id)))
        assert ctx.workdir.is_dir() and ctx.workdir.name == ctx.group_id
        assert len(ctx.subband_paths) == 16
        if self.defer:
            raise StageDeferred("no calibration covers this group yet", retry_after_s=600)
        if self.fail_times > 0:
            self.fail_times -= 1
            raise ValueError(f"cannot read {ctx.subband_paths[0]}")
        if self.timing:
            ctx.timings_s[self.timing[0]] = self.timing[1]
        ctx.artifacts["writer_type"] = "pyuvdata"


@pytest.fixture
def registry(idb: Database) -> Iterator[tuple[StageRegistry, Probe, Probe]]:
    reg = StageRegistry()
    conv = Probe("convert", "conversion", idb, timing=("conversion_time", 1.5))
    image = Probe("image", "fresh", idb, timing=("imaging_time", 2.5))
    reg.register(conv, order=10)  # type: ignore[arg-type]
    reg.register(image, order=50)  # type: ignore[arg-type]
    yield reg, conv, image


def worker(fast: Settings, fdbs: Databases, reg: StageRegistry, **kw: object) -> Worker:
    return Worker(fast, dbs=fdbs, registry=reg, worker_id="w1", **kw)  # type: ignore[arg-type]


def test_states_stages_and_metrics(
    fast: Settings, fdbs: Databases, idb: Database, registry
) -> None:  # type: ignore[no-untyped-def]
    reg, conv, image = registry
    ids = queue_pending_groups(idb, 2)
    w = worker(fast, fdbs, reg)
    assert w.run_one() == ids[0]  # oldest first
    assert conv.seen == [("convert", ids[0], "in_progress")]
    assert image.seen == [("image", ids[0], "processing_fresh")]
    with idb.read() as conn:
        row = iq.group_row(conn, group_id=ids[0])
        m = iq.metrics_row(conn, group_id=ids[0])
    assert row is not None and row.state == "completed" and row.lease_owner is None
    assert m is not None
    assert (m.conversion_time, m.imaging_time, m.writer_type) == (1.5, 2.5, "pyuvdata")
    assert m.k_solve_time is None and m.photometry_time is None
    assert m.total_time >= 0
    # A second run of the same group (after a retry) replaces its metrics row.
    with idb.write() as conn:
        conn.execute(
            ingest_queue.update().where(ingest_queue.c.group_id == ids[0]).values(state="pending")
        )
    w.run(drain=True)
    with idb.read() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(performance_metrics)).scalar_one()
        assert n == 2
        assert iq.count_by_state(conn)["completed"] == 2


def _make_due(db: Database, group_id: str) -> None:
    """Pretend the backoff time has passed."""
    with db.write() as conn:
        conn.execute(
            ingest_queue.update()
            .where(ingest_queue.c.group_id == group_id)
            .values(next_attempt_at=0.0)
        )


def test_failure_backoff_and_max_retries(
    fast: Settings, fdbs: Databases, idb: Database, registry
) -> None:  # type: ignore[no-untyped-def]
    reg, conv, _ = registry
    conv.fail_times = 100
    (gid,) = queue_pending_groups(idb, 1)
    w = worker(fast, fdbs, reg)
    base = fast.worker.backoff_base_s
    for attempt in range(1, fast.worker.max_retries + 2):
        assert w.run_one() == gid
        with idb.read() as conn:
            row = iq.group_row(conn, group_id=gid)
        assert row is not None
        assert row.state == "failed" and row.retry_count == attempt
        assert row.error_message.startswith("stage convert failed: ValueError: cannot read")
        if attempt <= fast.worker.max_retries:
            assert row.next_attempt_at - row.last_update == pytest.approx(base * 2 ** (attempt - 1))
            assert w.run_one() is None  # not before its time
            _make_due(idb, gid)
        else:
            assert row.next_attempt_at is None  # stays failed
    assert w.run_one() is None
    # Manual retry: back to pending with a fresh budget, and it completes.
    conv.fail_times = 0
    assert "failed -> pending" in retry_group(idb, group_id=gid, now=1.0).summary
    assert w.run_one() == gid
    with idb.read() as conn:
        row = iq.group_row(conn, group_id=gid)
    assert row is not None and row.state == "completed" and row.error_message is None


def test_retry_refuses_groups_that_are_not_failed(idb: Database) -> None:
    (gid,) = queue_pending_groups(idb, 1)
    with pytest.raises(Exception, match="pending, not failed"):
        retry_group(idb, group_id=gid, now=1.0)
    with pytest.raises(Exception, match="no group"):
        retry_group(idb, group_id="2000-01-01T00:00:00", now=1.0)


def test_deferred_group_waits_without_counting_a_retry(
    fast: Settings, fdbs: Databases, idb: Database, registry
) -> None:  # type: ignore[no-untyped-def]
    reg, _, image = registry
    image.defer = True
    (gid,) = queue_pending_groups(idb, 1)
    w = worker(fast, fdbs, reg)
    assert w.run_one() == gid
    with idb.read() as conn:
        row = iq.group_row(conn, group_id=gid)
    assert row is not None
    assert row.state == "pending" and row.retry_count == 0
    assert row.error_message == "deferred by stage image: no calibration covers this group yet"
    assert row.next_attempt_at - row.last_update == pytest.approx(600, abs=1)
    assert w.run_one() is None
    image.defer = False
    _make_due(idb, gid)
    assert w.run_one() == gid


def test_expired_lease_returns_group_and_old_worker_changes_nothing(
    fast: Settings,
    fdbs: Databases,
    idb: Database,
    registry,  # type: ignore[no-untyped-def]
) -> None:
    reg, _, _ = registry
    (gid,) = queue_pending_groups(idb, 1)
    with idb.write() as conn:  # a worker that claimed it long ago and died
        assert iq.claim_next(conn, worker_id="dead", now=0.0, lease_s=10) == gid
    w = worker(fast, fdbs, reg)
    assert w.run_one() == gid  # reaped, then claimed
    assert w.stats.reaped == 1
    with idb.read() as conn:
        row = iq.group_row(conn, group_id=gid)
    assert row is not None and row.state == "completed" and row.retry_count == 1
    with idb.write() as conn:  # the dead worker wakes up: none of its transitions apply
        assert not iq.renew_lease(conn, group_id=gid, worker_id="dead", now=1.0, lease_s=10)
        assert not iq.complete(
            conn,
            group_id=gid,
            worker_id="dead",
            now=1.0,
            timings_s={},
            total_time_s=1,
            writer_type=None,
        )
        assert (
            iq.fail(
                conn,
                group_id=gid,
                worker_id="dead",
                now=1.0,
                error_message="x",
                max_retries=3,
                backoff_base_s=1,
            )[0]
            is False
        )


def test_lease_lost_past_max_retries_fails(fast: Settings, idb: Database) -> None:
    (gid,) = queue_pending_groups(idb, 1)
    with idb.write() as conn:
        conn.execute(ingest_queue.update().values(retry_count=fast.worker.max_retries))
        iq.claim_next(conn, worker_id="dead", now=0.0, lease_s=1)
    with idb.write() as conn:
        ((g, owner, state),) = iq.reap_expired(conn, now=5.0, max_retries=fast.worker.max_retries)
    assert (g, owner, state) == (gid, "dead", "failed")
    with idb.read() as conn:
        row = iq.group_row(conn, group_id=gid)
    assert row is not None and "lost its lease" in row.error_message


def test_heartbeat_renews_the_lease(fast: Settings, fdbs: Databases, idb: Database) -> None:
    import time

    cfg = fast.model_copy(
        update={"worker": fast.worker.model_copy(update={"lease_s": 1.0, "heartbeat_s": 0.1})}
    )

    @dataclass
    class Slow:
        name: str = "slow"
        phase: Phase = "conversion"

        def run(self, ctx: StageContext) -> None:
            time.sleep(2.5)  # longer than the lease: only the heartbeat keeps it
            with idb.read() as conn:
                row = iq.group_row(conn, group_id=ctx.group_id)
            assert row is not None and row.lease_expires_at > time.time()

    reg = StageRegistry()
    reg.register(Slow(), order=1)  # type: ignore[arg-type]
    (gid,) = queue_pending_groups(idb, 1)
    w = Worker(cfg, dbs=fdbs, registry=reg, worker_id="w1")
    assert w.run_one() == gid
    with idb.read() as conn:
        assert iq.group_state(conn, group_id=gid) == "completed"


@dataclass
class Noting:
    """A stage that completes with a caveat (as calibration does when extrapolating)."""

    name: str = "calibrate"
    phase: Phase = "fresh"

    def run(self, ctx: StageContext) -> None:
        ctx.notes.append("EXTRAPOLATED calibration: no set covers it")


def test_completed_group_keeps_its_notes(
    fast: Settings, fdbs: Databases, idb: Database, registry
) -> None:  # type: ignore[no-untyped-def]
    reg, _, _ = registry
    reg.register(Noting(), order=20)  # type: ignore[arg-type]
    (gid,) = queue_pending_groups(idb, 1)
    assert worker(fast, fdbs, reg).run_one() == gid
    with idb.read() as conn:
        row = iq.group_row(conn, group_id=gid)
    assert row is not None and row.state == "completed"
    assert row.error_message == "note: EXTRAPOLATED calibration: no set covers it"
