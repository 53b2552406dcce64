"""End to end with the simulator's real UVH5 files (pyuvdata): scan -> pending -> worker."""

from __future__ import annotations

import pytest

from contimg.config import Settings
from contimg.db.engine import Database, Databases
from contimg.db.queries import ingest as iq
from contimg.ingest import hooks
from contimg.ingest.scanner import scan_once
from contimg.ingest.worker import Worker
from contimg.stages.base import StageRegistry

DEC = 54.57


@pytest.mark.slow
def test_simulated_group_is_ingested_and_processed(
    idb: Database, fdbs: Databases, fast: Settings
) -> None:
    from contimg.sim.astro import icrs_of_pointing, mjd_from_iso
    from contimg.sim.observe import simulate_groups
    from contimg.sim.sky import make_sky, write_catalogs

    start = mjd_from_iso("2025-10-02T03:00:00")
    pra, pdec = icrs_of_pointing(start + 155 / 86400, DEC)
    sky = make_sky(
        ra_deg=pra, dec_deg=pdec, radius_deg=1.0, seed=1, epoch_mjd=start, min_flux_mjy=50.0
    )
    write_catalogs(sky, fast.home / "cat")
    incoming = fast.incoming_path
    truth = next(
        iter(
            simulate_groups(
                out_dir=incoming, catalog_dir=fast.home / "cat", start_mjd=start, n_groups=1,
                dec_deg=DEC, preset="ci", seed=2,
            )
        )
    )  # fmt: skip
    seen: list[hooks.PendingGroup] = []
    hooks.set_calibrator_matcher(lambda g: seen.append(g) or [])  # type: ignore[func-returns-value]
    try:
        report = scan_once(idb, fast, incoming)
    finally:
        hooks.set_calibrator_matcher(None)
    sb00 = sorted(f for f in truth["files"] if f.endswith("_sb00.hdf5"))[0]
    group_id = sb00[:19]
    assert report.ingest.became_pending == [group_id], report.summary()
    assert not report.ingest.rejected
    (group,) = seen
    assert group.dec_deg == pytest.approx(DEC, abs=1e-6)
    assert group.start_jd is not None and group.end_jd is not None
    assert (group.end_jd - group.start_jd) * 86400 == pytest.approx(23 * 12.884902, abs=1.0)
    worker = Worker(fast, dbs=fdbs, registry=StageRegistry(), worker_id="e2e")
    assert worker.run_one() == group_id
    with idb.read() as conn:
        assert iq.group_state(conn, group_id=group_id) == "completed"
