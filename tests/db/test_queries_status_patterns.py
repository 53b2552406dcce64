"""The spec's query patterns and the status queries on populated data, both backends."""

from __future__ import annotations

import sqlalchemy as sa

from contimg.db import ingest, products
from contimg.db.engine import Databases
from contimg.db.queries import patterns, status
from tests.factories import group_id, populate, source_id


def test_ese_candidates_with_source_details(dbs: Databases) -> None:
    populate(dbs)
    with dbs.products.write() as conn:
        conn.execute(
            products.variability_stats.update()
            .where(products.variability_stats.c.source_id == source_id(1))
            .values(chi2_nu=9.0, sigma_deviation=6.0, mean_flux_mjy=100.0)
        )
        for sid, sig, st in ((source_id(1), 9.5, "active"), (source_id(2), 3.0, "dismissed")):
            conn.execute(
                products.ese_candidates.insert().values(
                    source_id=sid, flagged_at=1.8e9, significance=sig, flag_type="variability",
                    status=st,
                )
            )  # fmt: skip
    with dbs.products.read() as conn:
        active = patterns.ese_candidates_with_sources(conn)
        everything = patterns.ese_candidates_with_sources(conn, status=None)
        page2 = patterns.ese_candidates_with_sources(conn, limit=1, offset=1)
    assert [c.source_id for c in active] == [source_id(1), source_id(0)]
    assert active[0].significance == 9.5 and active[0].chi2_nu == 9.0
    assert active[0].ra_deg == 11.0 and active[0].n_obs == 3
    assert len(everything) == 3
    assert [c.source_id for c in page2] == [source_id(0)]


def test_flux_timeseries_is_in_mjy_oldest_first(dbs: Databases) -> None:
    populate(dbs, n_groups=5)
    with dbs.products.read() as conn:
        points = patterns.flux_timeseries(conn, source_id=source_id(1))
        none = patterns.flux_timeseries(conn, source_id="NVSS J999999.9+999999")
    assert len(points) == 5 and none == []
    mjds = [p.mjd for p in points]
    assert mjds == sorted(mjds)
    assert abs(points[0].flux_mjy - 100.0) < 1e-9
    assert abs(points[4].flux_mjy - 104.0) < 1e-9
    assert points[0].error_mjy == 1.0 and points[0].image_noise_mjy == 1.0


def test_recent_mosaics_newest_first(dbs: Databases) -> None:
    populate(dbs)
    with dbs.products.write() as conn:
        conn.execute(
            products.mosaics.insert().values(
                path="/m/2.fits", name="m2", created_at=1.9e9, start_mjd=1, end_mjd=2,
                integration_sec=7200.0, noise_jy=0.0002,
            )
        )  # fmt: skip
    with dbs.products.read() as conn:
        rows = patterns.recent_mosaics(conn)
    assert [m.name for m in rows] == ["m2", "m1"]
    assert rows[0].hours == 2.0 and abs((rows[0].noise_mjy or 0) - 0.2) < 1e-12


def test_queue_stats_and_recent_groups(dbs: Databases) -> None:
    populate(dbs, n_groups=4)
    with dbs.ingest.write() as conn:
        conn.execute(
            ingest.ingest_queue.update()
            .where(ingest.ingest_queue.c.group_id == group_id(3))
            .values(state="processing_fresh")
        )
        conn.execute(sa.delete(ingest.subband_files).where(ingest.subband_files.c.subband_idx > 9))
    with dbs.ingest.read() as conn:
        stats = status.queue_stats(conn)
        groups = status.recent_groups(conn, limit=2)
        failed = status.recent_groups(conn, state="failed")
    assert stats.total == 4 and stats.failed == 1 and stats.completed == 2
    assert stats.in_progress == 1 and stats.processing_fresh == 1
    assert [g.group_id for g in groups] == [group_id(3), group_id(2)]
    assert groups[0].subbands_present == 10 and groups[0].total_time_s == 12.5
    assert [g.error_message for g in failed] == ["boom"]


def test_calibration_sets(dbs: Databases) -> None:
    populate(dbs)
    with dbs.cal_registry.read() as conn:
        now_in = status.calibration_sets(conn, now_mjd=60950.5)
        now_out = status.calibration_sets(conn, now_mjd=60960.0)
    assert len(now_in) == 1
    s = now_in[0]
    assert [t.table_type for t in s.tables] == ["K", "BP", "G"]
    assert s.covers_now and s.active and (s.valid_start_mjd, s.valid_end_mjd) == (60950.0, 60951.0)
    assert not now_out[0].covers_now
