"""Grouping, group ids and the collecting -> pending transition, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from contimg.config import Settings
from contimg.db.engine import Database
from contimg.db.ingest import ingest_files, ingest_ignored, ingest_queue, subband_files
from contimg.db.queries import ingest as iq
from contimg.ingest.names import TIMESTAMP_FORMAT, classify, subband_file_name
from contimg.ingest.queue import CheckedFile, take_file
from contimg.ingest.uvh5 import HeaderFacts

FACTS = HeaderFacts(start_jd=2460950.5, end_jd=2460950.51, n_freqs=48, dec_deg=54.57)
BASE = datetime(2025, 10, 2, 0, 12, 0, tzinfo=UTC)


def stamp(offset_s: float) -> str:
    return (BASE + timedelta(seconds=offset_s)).strftime(TIMESTAMP_FORMAT)


def checked(
    offset_s: float, sb: int, *, error: str | None = None, directory: str = "/in"
) -> CheckedFile:
    name = subband_file_name(stamp(offset_s), sb)
    parsed = classify(name)
    assert not isinstance(parsed, str)
    return CheckedFile(
        path=f"{directory}/{name}",
        name=parsed,
        size=100,
        facts=None if error else FACTS,
        error=error,
    )


def feed(db: Database, settings: Settings, items: list[CheckedFile]) -> None:
    for item in items:
        with db.write() as conn:
            take_file(conn, checked=item, settings=settings, now=1000.0)


def clear(db: Database) -> None:
    with db.write() as conn:
        for table in (subband_files, ingest_files, ingest_ignored, ingest_queue):
            conn.execute(table.delete())


def groups(db: Database) -> dict[str, tuple[str, set[str]]]:
    with db.read() as conn:
        out = {}
        for row in conn.execute(sa.select(ingest_queue.c.group_id, ingest_queue.c.state)):
            paths = {r.file_path for r in iq.subbands(conn, group_id=row.group_id)}
            out[row.group_id] = (row.state, paths)
        return out


@st.composite
def observations(draw: st.DrawFn) -> tuple[list[list[CheckedFile]], list[CheckedFile]]:
    """1-4 groups 309 s apart, each file jittered by up to 30 s either way, arriving in a
    random order with some events duplicated."""
    n_groups = draw(st.integers(1, 4))
    truth = []
    for g in range(n_groups):
        jitter = draw(st.lists(st.integers(-30, 30), min_size=16, max_size=16))
        truth.append([checked(g * 309 + jitter[sb], sb) for sb in range(16)])
    events = [f for grp in truth for f in grp]
    dupes = draw(st.lists(st.sampled_from(events), max_size=10))
    order = draw(st.permutations(events + dupes))
    return truth, list(order)


def test_grouping_is_order_independent(idb: Database, fast: Settings, backend: str) -> None:
    """Every file ends in exactly one group, each group holds one observation, its id is
    the sb00 timestamp: whatever the arrival order, jitter and duplicate events."""

    @hsettings(
        max_examples=25 if backend == "sqlite" else 12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(observations())
    def check(case: tuple[list[list[CheckedFile]], list[CheckedFile]]) -> None:
        truth, events = case
        clear(idb)
        feed(idb, fast, events)
        found = groups(idb)
        assert len(found) == len(truth)
        for grp in truth:
            sb00 = next(f for f in grp if f.name.subband_idx == 0)
            state, paths = found[sb00.name.timestamp]
            assert state == "pending"
            assert paths == {f.path for f in grp}
        with idb.read() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(subband_files)).scalar_one()
        assert n == 16 * len(truth)

    check()


def test_id_before_sb00_is_the_earliest_timestamp(idb: Database, fast: Settings) -> None:
    feed(idb, fast, [checked(20, 5), checked(7, 9), checked(25, 3)])
    assert list(groups(idb)) == [stamp(7)]
    assert groups(idb)[stamp(7)][0] == "collecting"
    feed(idb, fast, [checked(12, 0)])  # sb00 arrives: renamed to its timestamp
    assert list(groups(idb)) == [stamp(12)]
    with idb.read() as conn:
        rows = iq.group_file_rows(conn, group_id=stamp(12))
    assert len(rows) == 4


def test_same_file_twice_is_idempotent(idb: Database, fast: Settings) -> None:
    feed(idb, fast, [checked(0, 1), checked(0, 1), checked(0, 1)])
    ((state, paths),) = groups(idb).values()
    assert state == "collecting" and len(paths) == 1


def test_second_different_file_for_a_subband_fails_that_group(
    idb: Database, fast: Settings
) -> None:
    feed(idb, fast, [checked(0, s) for s in range(8)] + [checked(400, s) for s in range(16)])
    feed(idb, fast, [checked(5, 3)])  # another sb03 for the first group
    found = groups(idb)
    assert found[stamp(400)][0] == "pending"  # the other group carries on
    with idb.read() as conn:
        row = iq.group_row(conn, group_id=stamp(0))
        assert row is not None
        assert row.state == "failed"
        assert "conflicting files for sb03" in row.error_message
        assert f"/in/{subband_file_name(stamp(5), 3)}" in row.error_message
        (rej,) = iq.rejected_files(conn, group_id=stamp(0))
        assert "a second, different file for sb03" in rej.reason


def test_corrupt_file_fails_its_group_naming_it(idb: Database, fast: Settings) -> None:
    bad = checked(3, 7, error="cannot open as HDF5 (file signature not found)")
    feed(idb, fast, [checked(0, s) for s in range(16) if s != 7] + [bad])
    feed(idb, fast, [checked(309 + s, s) for s in range(16)])
    with idb.read() as conn:
        row = iq.group_row(conn, group_id=stamp(0))
        assert row is not None and row.state == "failed"
        assert bad.path in row.error_message and "signature" in row.error_message
        assert iq.group_state(conn, group_id=stamp(309)) == "pending"


def test_files_further_apart_than_the_tolerance_split(idb: Database, fast: Settings) -> None:
    feed(idb, fast, [checked(0, 0), checked(61, 1), checked(30, 2)])
    # 0 and 30 fit (span 30); 61 is 61 s from 0: its own group.
    found = groups(idb)
    assert sorted(found) == [stamp(0), stamp(61)]
    assert len(found[stamp(0)][1]) == 2
