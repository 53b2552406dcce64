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
from contimg.db.queries.products import MsRow
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
    assert ms is not None and ms.cal_applied == 0 and ms.stage == "converted"


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
    assert [r.table_type for r in rows] == ["K", "BP", "G"]
    with dbs.ingest.read() as conn:
        q = conn.execute(sa.select(ingest_queue)).mappings().one()
    (rec,) = json.loads(q["calibrators"])
    assert q["has_calibrator"] == 1 and rec["name"] == "TESTCAL" and rec["sep_deg"] < 0.1
    with dbs.products.read() as conn:
        ms = pq.get_ms(conn, path=str(ctx.artifacts["ms_path"]))
        img_rows = pq.images_for_ms(conn, ms_path=str(ctx.artifacts["ms_path"]))
    assert ms is not None and ms.cal_applied == 1 and ms.stage == "imaged"
    assert sorted(r.type for r in img_rows) == ["image", "pbcor", "residual"]
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


def _mean_beam(ra: float, dec: float, ms: MsRow) -> float:
    """Drift-averaged Airy response at (ra, dec) at the image frequency (the factory's sky has
    no beam, so the *apparent* flux the pipeline calibrates to is 5 Jy x this)."""
    from contimg.calibration.pointing import drift_pointings
    from contimg.science.beams import primary_beam_at

    obs = ms.observation()
    pts = drift_pointings(
        ra_deg=obs.pointing_ra_deg, dec_deg=obs.pointing_dec_deg, mid_mjd=obs.mid_mjd,
        start_mjd=obs.start_mjd, end_mjd=obs.end_mjd,
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


def _with_cal(settings: Settings, tmp: Path, csv: str, **imaging: object) -> Settings:
    cal_csv = tmp / "cals.csv"
    cal_csv.write_text("name,ra_deg,dec_deg,flux_jy,spectral_index\n" + csv)
    return settings.model_copy(
        update={
            "calibration": settings.calibration.model_copy(update={"calibrators_csv": cal_csv}),
            "imaging": settings.imaging.model_copy(update=imaging),
        }
    )


def test_pointing_without_calibrator_fails_at_once_naming_the_cause(
    small_group: dict[int, Path], settings: Settings, dbs: Databases, tmp_path: Path
) -> None:
    """No calibrator of the list transits Dec 54.57: no waiting a day, a clear message."""
    paths = {i: small_group[i] for i in (0, 15)}
    _queue_row(dbs, GROUP_START, received_at=time.time())
    s = _with_cal(settings, tmp_path, "FAR,212.8,30.0,20,0\n")
    ctx = _ctx(s, dbs, paths, GROUP_START)
    ConvertStage().run(ctx)
    with pytest.raises(
        ContimgError,
        match=r"cannot be calibrated.*NO CALIBRATOR of the calibrator list transits pointing "
        r"Dec 54\.\d\d deg.*nearest in Dec: FAR at Dec 30\.00",
    ):
        CalibrateStage().run(ctx)
    # With imaging.allow_uncalibrated it goes on at once, uncalibrated, with a note.
    s = _with_cal(settings, tmp_path, "FAR,212.8,30.0,20,0\n", allow_uncalibrated=True)
    ctx = _ctx(s, dbs, paths, GROUP_START)
    ctx.artifacts.clear()
    CalibrateStage().run(ctx)
    assert ctx.artifacts["cal_set"] is None
    (note,) = ctx.notes
    assert note.startswith("UNCALIBRATED") and "NO CALIBRATOR" in note


def test_waits_only_until_the_next_transit_then_falls_back_to_the_same_pointing(
    small_group: dict[int, Path], settings: Settings, dbs: Databases, tmp_path: Path
) -> None:
    """A calibrator of this pointing transits 3 h after the group: wait ~4 h, not 24 h.
    Then the nearest set OF THIS POINTING is applied, marked extrapolated; a set solved at
    another pointing never is."""
    from contimg.calibration.calibrators import load_calibrators, next_transit_mjd
    from contimg.calibration.lookup import write_set_pointing

    paths = {i: small_group[i] for i in (0, 15)}
    _queue_row(dbs, GROUP_START, received_at=time.time())
    mid = Time(GROUP_START, scale="utc").mjd
    ra_cal, _ = meridian_pointing_icrs(mid + 3 / 24, 54.57)
    s = _with_cal(settings, tmp_path, f"SOON,{ra_cal},54.9,10,0\n")
    ctx = _ctx(s, dbs, paths, GROUP_START)
    ConvertStage().run(ctx)
    with pytest.raises(
        StageDeferred, match=r"next calibrator transit at this pointing: SOON"
    ) as ei:
        CalibrateStage().run(ctx)
    import re

    wait_h = float(re.search(r"of ([\d.]+) h$", ei.value.reason).group(1))  # type: ignore[union-attr]
    assert wait_h == pytest.approx(4.0, abs=0.05)  # ~3 h to the transit + 1 h margin
    nxt = next_transit_mjd(load_calibrators(s.calibration.calibrators_csv)[0], after_mjd=mid,
                           dec_deg=54.57)  # fmt: skip
    assert (nxt - mid) * 24 == pytest.approx(3.0, abs=0.05)
    # Two sets, both 2 days old (beyond extrapolate_max_h): one at Dec 16.3, one here.
    with dbs.products.read() as conn:
        ms = pq.get_ms(conn, path=str(ctx.artifacts["ms_path"]))
    assert ms is not None
    rows_here, rows_there = [], []
    for name, dec, rows in (("here_set", ms.pointing_dec_deg, rows_here),
                            ("there_set", 16.3, rows_there)):  # fmt: skip
        d = s.products_path / "caltables" / name
        d.mkdir(parents=True)
        write_set_pointing(d, ra_deg=0.0, dec_deg=dec, calibrator="X", mid_mjd=mid - 2)
        for i, kind in enumerate(("K", "BP", "G")):
            rows.append({"path": str(d / f"{kind}.h5"), "table_type": kind, "order_index": i,
                         "valid_start_mjd": mid - 2.25, "valid_end_mjd": mid - 1.75,
                         "created_at": time.time() + (1 if name == "there_set" else 0),
                         "active": 1})  # fmt: skip
    with dbs.cal_registry.write() as conn:
        cq.replace_set(conn, set_name="here_set", rows=rows_here)
        cq.replace_set(conn, set_name="there_set", rows=rows_there)
    # Still waiting (inside the ~4 h): the old set is not used yet.
    with pytest.raises(StageDeferred):
        CalibrateStage().run(ctx)
    # 5 h later: the transit gave no set; the nearest set of THIS pointing, extrapolated.
    with dbs.ingest.write() as conn:
        conn.execute(ingest_queue.update().values(received_at=time.time() - 5 * 3600))
    assert ms is not None
    chosen = CalibrateStage()._no_set(ctx, row=ms)
    assert chosen is not None and chosen.set_name == "here_set" and chosen.extrapolated
    assert chosen.distance_h == pytest.approx(48, abs=0.5)
    (note,) = ctx.notes
    assert note.startswith("EXTRAPOLATED calibration") and "here_set" in note
