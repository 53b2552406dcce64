"""ingest_0002 rolls back and forward without losing a row of the spec's tables."""

from __future__ import annotations

import sqlalchemy as sa

from contimg.config import Settings
from contimg.db import migrations
from contimg.db.engine import Database
from contimg.db.queries import ingest as iq
from contimg.ingest.names import classify, subband_file_name
from contimg.ingest.queue import CheckedFile, take_file
from contimg.ingest.uvh5 import HeaderFacts
from tests.factories import queue_pending_groups

SPEC_TABLES = ("ingest_queue", "subband_files", "performance_metrics")
SPEC_COLUMNS = {
    "ingest_queue": "group_id, state, received_at, last_update, expected_subbands, has_calibrator, "
    "calibrators, retry_count, error_message",
    "subband_files": "id, group_id, subband_idx, file_path, file_size, discovered_at",
    "performance_metrics": "id, group_id, writer_type, conversion_time, concat_time, k_solve_time, "
    "bp_solve_time, g_solve_time, imaging_time, photometry_time, total_time, recorded_at",
}


def spec_rows(db: Database) -> dict[str, list[tuple[object, ...]]]:
    with db.read() as conn:
        return {
            t: sorted(tuple(r) for r in conn.execute(sa.text(f"SELECT {SPEC_COLUMNS[t]} FROM {t}")))
            for t in SPEC_TABLES
        }


def test_ingest_0002_round_trip_keeps_spec_rows(idb: Database, fast: Settings) -> None:
    ids = queue_pending_groups(idb, 3)
    with idb.write() as conn:  # a running, a completed and a collecting group
        iq.claim_next(conn, worker_id="w", now=10.0, lease_s=60)
        iq.claim_next(conn, worker_id="w", now=10.0, lease_s=60)
        iq.complete(
            conn,
            group_id=ids[1],
            worker_id="w",
            now=11.0,
            timings_s={"imaging_time": 4.0},
            total_time_s=9.0,
            writer_type="auto",
        )
        name = classify(subband_file_name("2025-11-01T00:00:00", 4))
        assert not isinstance(name, str)
        facts = HeaderFacts(start_jd=1.0, end_jd=2.0, n_freqs=48, dec_deg=54.6)
        take_file(
            conn,
            checked=CheckedFile(path="/in/x_sb04.hdf5", name=name, size=5, facts=facts),
            settings=fast,
            now=12.0,
        )
    before = spec_rows(idb)
    assert len(before["ingest_queue"]) == 4 and len(before["performance_metrics"]) == 1

    migrations.downgrade(idb, to="ingest_0001")
    with idb.read() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        columns = {c["name"] for c in sa.inspect(conn).get_columns("ingest_queue")}
    assert "ingest_files" not in tables and "ingest_ignored" not in tables
    assert "lease_owner" not in columns
    assert spec_rows(idb) == before

    migrations.upgrade(idb)
    assert spec_rows(idb) == before
    with idb.write() as conn:  # the queue works again; leases start empty
        row = iq.group_row(conn, group_id=ids[0])
        assert row is not None and row.lease_owner is None
        assert iq.claim_next(conn, worker_id="v", now=20.0, lease_s=60) == ids[2]
        # The group that was running lost its lease record: it is returned, not stuck.
        assert iq.reap_expired(conn, now=21.0, max_retries=3) == [(ids[0], "None", "pending")]
