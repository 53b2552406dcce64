"""The catalog built from the simulator's survey files agrees with the simulated sky."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sqlalchemy as sa

from contimg.catalog.build import BuildInputs, build_catalog
from contimg.config import Settings
from contimg.db.engine import open_database
from contimg.db.master_sources import sources
from contimg.sim.sky import make_sky, write_catalogs


def test_build_from_simulated_surveys(sqlite_settings: Settings, tmp_path: Path) -> None:
    sky = make_sky(ra_deg=150.0, dec_deg=20.0, radius_deg=1.5, seed=4, epoch_mjd=60000.0)
    paths = write_catalogs(sky, tmp_path / "cat")
    report = build_catalog(
        sqlite_settings, BuildInputs(paths["nvss"], paths["first"], paths["vlass"])
    )
    assert report.n_nvss == len(sky.sources) and report.n_renamed == 0
    db = open_database(sqlite_settings, "master_sources")
    try:
        with db.read() as conn:
            rows = {r["source_id"]: r for r in conn.execute(sa.select(sources)).mappings()}
    finally:
        db.dispose()
    truth = sky.by_id()
    assert set(rows) == set(truth)

    ln = np.log(3.0 / 1.4)
    n_checked = 0
    for sid, row in rows.items():
        src = truth[sid]
        pair = len(src.components) > 1
        if row["confusion_flag"]:
            # Sources are >= 60" apart: only a close pair gives two partners in 7.5".
            assert pair, sid
        if row["resolved_flag"]:
            assert src.maj_arcsec > 5.0, sid
        elif row["first_size_maj_arcsec"] is not None and src.maj_arcsec >= 8.0:
            raise AssertionError(f'{sid}: extended ({src.maj_arcsec:.1f}") but not resolved')
        if not pair and src.maj_arcsec < 1.0 and row["alpha"] is not None and row["s_nvss"] > 0.03:
            # Bright point sources: the catalog's spectral index is the true one
            # within the measurement errors (3 % flux scale in each survey).
            sigma = np.hypot(0.04, 0.04) / ln
            assert abs(row["alpha"] - src.alpha) < 5 * sigma, (sid, row["alpha"], src.alpha)
            n_checked += 1
    assert n_checked >= 5
    assert report.counts["confused"] > 0 and report.counts["resolved"] > 0
    assert report.counts["final_references"] > 0.3 * len(rows)
