"""Calibration stage: waiting for a set, failing past the timeout, and (with the real DP3
and WSClean) solving a transit, applying it and imaging the result."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from astropy.time import Time

from contimg.calibration.pointing import meridian_pointing_icrs
from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.ingest import ingest_queue
from contimg.db.queries import calibration as cq
from contimg.db.queries import products as pq
from contimg.errors import ContimgError
from contimg.stages.base import StageContext, StageDeferred
from contimg.stages.calibrate import CalibrateStage
from contimg.stages.convert import ConvertStage
from contimg.stages.image import ImageStage
from contimg.telescope import DSA110
from tests.stages.conftest import GROUP_START
from tests.stages.groups import PointSource, write_group
from tests.stages.measure import fit_point_source, load_image


def _queue_row(dbs: Databases, group_id: str, received_at: float) -> None:
    with dbs.ingest.write() as conn:
        conn.execute(
            ingest_queue.insert().values(
                group_id=group_id, state="in_progress", received_at=received_at,
                last_update=received_at,
            )
        )  # fmt: skip


def _ctx(settings: Settings, dbs: Databases, paths: dict[int, Path], gid: str) -> StageContext:
    return StageContext(
        settings=settings, dbs=dbs, group_id=gid, subband_paths=paths,
        workdir=settings.products_path / gid,
    )  # fmt: skip


def test_no_set_waits_then_fails_with_a_clear_message(
    small_group: dict[int, Path], settings: Settings, dbs: Databases
) -> None:
    paths = {i: small_group[i] for i in (0, 15)}
    _queue_row(dbs, GROUP_START, received_at=time.time())
    ctx = _ctx(settings, dbs, paths, GROUP_START)
    ConvertStage().run(ctx)
    with pytest.raises(StageDeferred, match="waiting for calibration: no active calibration set"):
        CalibrateStage().run(ctx)
    # No transit recorded, and the MS is left uncalibrated.
    with dbs.ingest.read() as conn:
        row = conn.execute(sa.select(ingest_queue)).mappings().one()
    assert row["has_calibrator"] == 0 and json.loads(row["calibrators"]) == []
    # Past the timeout: an ordinary error naming the group and what to do.
    with dbs.ingest.write() as conn:
        conn.execute(ingest_queue.update().values(received_at=time.time() - 25 * 3600))
    with pytest.raises(ContimgError, match=rf"group {GROUP_START} cannot be calibrated.*retry"):
        CalibrateStage().run(ctx)
    # The image stage refuses an uncalibrated MS instead of imaging it silently.
    with pytest.raises(ContimgError, match="not calibrated"):
        ImageStage().run(ctx)
    with dbs.products.read() as conn:
        ms = pq.get_ms(conn, path=str(ctx.artifacts["ms_path"]))
    assert ms is not None and ms["cal_applied"] == 0 and ms["stage"] == "converted"


@pytest.mark.tools
def test_transit_solve_apply_image(tmp_path: Path, sqlite_settings: Settings) -> None:
    """A 5 Jy 'calibrator' at the pointing, antenna gains with delays: solve on it, apply, image."""
    from tests.conftest import init_databases

    n_ant, n_chan, n_times = 8, 2, 6
    start = Time("2025-10-02T03:00:00", scale="utc")
    mid = start.mjd + 0.5 * n_times * DSA110.integration_s / 86400.0
    ra, dec = meridian_pointing_icrs(mid, 54.57)
    freqs = np.concatenate(
        [DSA110.subband_channel_freqs_hz(sb, n_chan) for sb in range(15, -1, -1)]
    )
    rng = np.random.default_rng(4)
    delay_ns = rng.normal(0, 2, n_ant)
    gains = rng.uniform(0.8, 1.2, n_ant)[:, None] * np.exp(
        1j * (rng.uniform(-3, 3, n_ant)[:, None] + 2e-9 * np.pi * delay_ns[:, None] * freqs)
    )
    paths = write_group(
        tmp_path / "incoming", start=start, dec_deg=54.57, n_ant=n_ant, n_chan=n_chan,
        n_times=n_times, sources=[PointSource(ra, dec, 5.0)], gains=gains, noise_jy=0.2,
    )  # fmt: skip
    cal_csv = tmp_path / "cals.csv"
    cal_csv.write_text(f"name,ra_deg,dec_deg,flux_jy,spectral_index\nTESTCAL,{ra},{dec},5.0,0\n")
    settings = sqlite_settings.model_copy(
        update={
            "calibration": sqlite_settings.calibration.model_copy(
                update={"calibrators_csv": cal_csv, "aoflagger": True}
            ),
            "imaging": sqlite_settings.imaging.model_copy(
                update={"size_px": 256, "cell_arcsec": 30.0}
            ),
        }
    )
    dbs = init_databases(settings)
    gid = start.isot[:19]
    _queue_row(dbs, gid, received_at=time.time())
    ctx = _ctx(settings, dbs, {int(p.stem[-2:]): p for p in paths}, gid)
    for stage in (ConvertStage(), CalibrateStage(), ImageStage()):
        stage.run(ctx)
    assert ctx.artifacts["cal_set"].startswith("testcal_")
    for key in ("k_solve_time", "bp_solve_time", "g_solve_time", "imaging_time"):
        assert ctx.timings_s[key] > 0
    with dbs.cal_registry.read() as conn:
        rows = cq.all_rows(conn)
    assert [r["table_type"] for r in rows] == ["K", "BP", "G"]
    with dbs.ingest.read() as conn:
        q = conn.execute(sa.select(ingest_queue)).mappings().one()
    (rec,) = json.loads(q["calibrators"])
    assert q["has_calibrator"] == 1 and rec["name"] == "TESTCAL" and rec["sep_deg"] < 0.1
    with dbs.products.read() as conn:
        ms = pq.get_ms(conn, path=str(ctx.artifacts["ms_path"]))
        img_rows = pq.images_for_ms(conn, ms_path=str(ctx.artifacts["ms_path"]))
    assert ms is not None and ms["cal_applied"] == 1 and ms["stage"] == "imaged"
    assert sorted(r["type"] for r in img_rows) == ["image", "pbcor", "residual"]
    data, wcs, header = load_image(ctx.artifacts["image_paths"]["image"])
    flux = fit_point_source(data, wcs, header, ra_deg=ra, dec_deg=dec)
    assert flux == pytest.approx(5.0 * _mean_beam(ra, dec, ms), rel=0.03)
    data, wcs, header = load_image(ctx.artifacts["image_paths"]["pbcor"])
    assert fit_point_source(data, wcs, header, ra_deg=ra, dec_deg=dec) == pytest.approx(
        5.0, rel=0.03
    )
    # Re-running the fresh stages replaces rows and files, never duplicates them.
    for stage in (CalibrateStage(), ImageStage()):
        stage.run(ctx)
    with dbs.cal_registry.read() as conn:
        assert len(cq.all_rows(conn)) == 3
    with dbs.products.read() as conn:
        assert len(pq.images_for_ms(conn, ms_path=str(ctx.artifacts["ms_path"]))) == 3
    dbs.dispose()


def _mean_beam(ra: float, dec: float, ms: dict) -> float:
    """Drift-averaged Airy response at (ra, dec) at the image frequency (the factory's sky has
    no beam, so the *apparent* flux the pipeline calibrates to is 5 Jy x this)."""
    from contimg.calibration.pointing import drift_pointings
    from contimg.science.beams import primary_beam_at

    pts = drift_pointings(
        ra_deg=ms["pointing_ra_deg"], dec_deg=ms["pointing_dec_deg"], mid_mjd=ms["mid_mjd"],
        start_mjd=ms["start_mjd"], end_mjd=ms["end_mjd"],
    )  # fmt: skip
    return float(
        np.mean(
            [
                primary_beam_at(ra, dec, pointing_ra_deg=a, pointing_dec_deg=b,
                                freq_hz=DSA110.centre_freq_hz,
                                dish_diameter_m=DSA110.dish_diameter_m)
                for a, b in pts
            ]
        )
    )  # fmt: skip
