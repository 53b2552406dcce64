"""Queries of photometry, variability and ESE candidates on both backends."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from contimg.db.engine import Databases
from contimg.db.products import ese_candidates
from contimg.db.queries import ese as eq
from contimg.db.queries import photometry as pq
from contimg.db.queries import products as prq
from contimg.db.queries import variability as vq
from contimg.variability.candidates import auto_flag


def _stats_row(sid: str) -> dict[str, object]:
    return {
        "source_id": sid, "ra_deg": 1.0, "dec_deg": 2.0, "nvss_flux_mjy": 10.0, "n_obs": 3,
        "mean_flux_mjy": 10.0, "std_flux_mjy": 1.0, "min_flux_mjy": 9.0, "max_flux_mjy": 11.0,
        "chi2_nu": 1.0, "sigma_deviation": 1.0, "eta_metric": 1.0, "last_measured_at": 5.0,
        "last_mjd": 60000.0, "updated_at": 5.0,
    }  # fmt: skip


def test_upserts_and_one_open_candidate(dbs: Databases) -> None:
    with dbs.products.write() as conn:
        vq.upsert_stats(conn, rows=[_stats_row("A"), _stats_row("B")])
        vq.upsert_stats(conn, rows=[{**_stats_row("A"), "n_obs": 4}])
        vq.upsert_sums(
            conn,
            rows=[
                {
                    "source_id": "A",
                    "state": "x",
                    "last_good_mjd": 1.0,
                    "last_good_flux_mjy": 2.0,
                    "last_good_err_mjy": 3.0,
                    "updated_at": 4.0,
                }
            ],
        )
        stats = vq.get_stats(conn, source_id="A")
        assert stats is not None and stats.n_obs == 4
        assert vq.get_sums(conn, source_ids=["A", "B"]).keys() == {"A"}
        assert auto_flag(conn, source_id="A", flag_type="variability", significance=6.0, now=1.0)
        assert auto_flag(conn, source_id="A", flag_type="variability", significance=8.0, now=2.0)
        assert not auto_flag(
            conn, source_id="A", flag_type="variability", significance=7.0, now=3.0
        )
        rows = eq.list_candidates(conn, source_id="A")
        assert len(rows) == 1 and rows[0].significance == 8.0 and rows[0].flagged_at == 1.0
        # closed: a weaker detection does not reopen, a stronger one opens a new row
        eq.update_candidate(conn, candidate_id=rows[0].id, values={"status": "dismissed"})
        assert not auto_flag(
            conn, source_id="A", flag_type="variability", significance=7.0, now=4.0
        )
        assert auto_flag(conn, source_id="A", flag_type="variability", significance=9.0, now=5.0)
        assert len(eq.list_candidates(conn, source_id="A")) == 2
    # the database itself refuses a second active candidate of a source and type
    with pytest.raises(sa.exc.IntegrityError), dbs.products.write() as conn:
        conn.execute(ese_candidates.insert().values(
            source_id="A", flagged_at=6.0, significance=1.0, flag_type="variability",
            status="active"))  # fmt: skip
    with pytest.raises(sa.exc.IntegrityError), dbs.products.write() as conn:  # foreign key
        eq.insert_candidate(
            conn,
            source_id="NOPE",
            flag_type="user",
            significance=1.0,
            now=1.0,
            flagged_by="x",
            notes=None,
        )


def test_photometry_replace_and_history(dbs: Databases) -> None:
    with dbs.products.write() as conn:
        prq.upsert_ms(conn, row={"path": "/m.ms", "mid_mjd": 60000.5})
        prq.replace_images(
            conn,
            ms_path="/m.ms",
            rows=[{"path": "/i.fits", "ms_path": "/m.ms", "created_at": 1.0, "type": "pbcor"}],
        )
        row = (
            "/i.fits",
            "S",
            1.0,
            2.0,
            None,
            0.1,
            0.01,
            10.0,
            5.0,
            60000.5,
            0.1,
            0,
            0.1,
            0.01,
            None,
            None,
        )
        assert pq.replace_image_photometry(conn, image_path="/i.fits", rows=[row]) == []
        assert pq.replace_image_photometry(conn, image_path="/i.fits", rows=[row]) == ["S"]
        assert len(pq.image_measurements(conn, image_path="/i.fits")) == 1
        info = pq.image_row(conn, path="/i.fits")
        assert info is not None and info.mid_mjd == 60000.5
        hist = pq.good_raw_history(conn, source_ids=["S"], bad_mask=1, limit=10)
        assert hist == {"S": [(60000.5, 0.1)]}
        pq.insert_baselines(
            conn,
            rows=[
                {
                    "source_id": "S",
                    "baseline_jyb": 0.1,
                    "n_epochs": 3,
                    "first_mjd": 1.0,
                    "last_mjd": 2.0,
                    "set_at": 3.0,
                }
            ],
        )
        assert pq.get_baselines(conn, source_ids=["S", "T"]) == {"S": 0.1}


def test_a_baseline_set_twice_keeps_the_first(dbs: Databases) -> None:
    # Two workers may set a source's baseline at once: the second insert must not fail
    # the stage (it did: a unique violation on PostgreSQL), and baselines stay frozen.
    row = {"source_id": "A", "baseline_jyb": 1.0, "n_epochs": 3, "first_mjd": 1.0,
           "last_mjd": 3.0, "set_at": 5.0}  # fmt: skip
    with dbs.products.write() as conn:
        pq.insert_baselines(conn, rows=[row])
    with dbs.products.write() as conn:
        pq.insert_baselines(conn, rows=[{**row, "baseline_jyb": 2.0}, {**row, "source_id": "B"}])
    with dbs.products.read() as conn:
        assert pq.get_baselines(conn, source_ids=["A", "B"]) == {"A": 1.0, "B": 1.0}
