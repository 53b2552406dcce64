"""Solving a calibrator transit: K, BP and G with DP3, registered as one set."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from contimg.calibration import dp3 as d
from contimg.calibration.calibrators import (
    Transit,
    find_calibrator,
    find_transits,
    load_calibrators,
)
from contimg.calibration.lookup import caltables_dir, write_set_pointing
from contimg.calibration.pointing import dec_of_date, drift_pointings
from contimg.calibration.registry import ORDER_INDEX, set_name_for, validity_window
from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.queries import calibration as cq
from contimg.db.queries.products import MsRow
from contimg.telescope import DSA110


def solve_transit(
    settings: Settings,
    dbs: Databases,
    runner: d.Dp3Runner,
    *,
    ms_row: MsRow,
    calibrator: str,
    timings: dict[str, float] | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> str:
    """Solve K/BP/G on the (flagged) calibrator MS of ``ms_row`` and register the set.

    Returns the set's name. Re-solving the same transit replaces the set.
    """
    cs = settings.calibration
    ms = Path(ms_row.path)
    cal = find_calibrator(load_calibrators(cs.calibrators_csv), calibrator)
    obs = ms_row.observation()
    mid = obs.mid_mjd
    set_name = set_name_for(cal.name, mid)
    out_dir = caltables_dir(settings, set_name)
    out_dir.mkdir(parents=True, exist_ok=True)
    pointings = drift_pointings(
        ra_deg=obs.pointing_ra_deg,
        dec_deg=obs.pointing_dec_deg,
        mid_mjd=mid,
        start_mjd=obs.start_mjd,
        end_mjd=obs.end_mjd,
    )
    write_set_pointing(
        out_dir,
        ra_deg=obs.pointing_ra_deg,
        dec_deg=obs.pointing_dec_deg,
        calibrator=cal.name,
        mid_mjd=mid,
    )
    flux, terms = d.apparent_model(cal, pointings=pointings)
    skymodel = d.write_skymodel(out_dir / "model.skymodel", cal, flux_jy=flux, terms=terms)
    progress(f"solving {set_name} on {cal.name} (apparent {flux:.2f} Jy at 1.4 GHz)")
    integration_s = DSA110.integration_s
    solint = d.solint_steps(cs.solve_int_s, integration_s)
    paths = d.solve_set(
        runner, ms, skymodel=skymodel, out_dir=out_dir, g_solint=solint, timings=timings,
        phase_centre_deg=(cal.ra_deg, cal.dec_deg),
    )  # fmt: skip
    now = time.time()
    rows = []
    for kind, path in paths.items():
        start, end = validity_window(kind, mid, cs)
        rows.append(
            {
                "path": str(path),
                "table_type": kind,
                "order_index": ORDER_INDEX[kind],
                "valid_start_mjd": start,
                "valid_end_mjd": end,
                "created_at": now,
                "active": 1,
            }
        )
    with dbs.cal_registry.write() as conn:
        cq.replace_set(conn, set_name=set_name, rows=rows)
    return set_name


def group_transits(settings: Settings, ms_row: MsRow) -> list[Transit]:
    """Calibrator transits during the group of ``ms_row`` (an ``ms_index`` row)."""
    obs = ms_row.observation()
    mid = obs.mid_mjd
    dec_date = dec_of_date(obs.pointing_ra_deg, obs.pointing_dec_deg, mid)
    return find_transits(
        load_calibrators(settings.calibration.calibrators_csv),
        start_mjd=obs.start_mjd,
        end_mjd=obs.end_mjd,
        dec_deg=dec_date,
        settings=settings.calibration,
    )


def dp3_runner(settings: Settings, log_dir: Path, progress: Callable[[str], None]) -> d.Dp3Runner:
    exe = d.dp3_executable(settings.calibration.dp3_executable)
    return d.Dp3Runner(exe, log_dir=log_dir, progress=progress)
