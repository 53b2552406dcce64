"""Calibration stage: transit check, flagging, solving (calibrator groups), lookup and apply.

For every group:

1. find calibrator transits (name, position, flux, separation from the meridian
   pointing at mid-time) and store them in ``ingest_queue.calibrators``;
2. for a transit group: flag (autocorrelations, AOFlagger), solve K, BP, G with
   DP3 against the calibrator's apparent (beam-attenuated) model and register
   the set in ``caltables``;
3. look the group's set up (science.md section 6), among sets solved at the
   group's pointing (Dec within ``pointing_match_deg``). None: if a calibrator of
   the list transits this pointing, raise :class:`~contimg.stages.base.StageDeferred`
   (the group waits and is retried) until that transit plus
   ``transit_wait_margin_h`` (at most ``wait_timeout_h`` after the group was
   received); if none does, do not wait. Then fall back: the nearest set of the
   same pointing within ``fallback_max_days`` (applied, marked extrapolated, a note
   on the group), else with ``imaging.allow_uncalibrated`` go on uncalibrated
   (``cal_applied = 0``, a note), else fail with a message naming the cause;
4. flag and apply K, BP, G in order into CORRECTED_DATA; ``ms_index``:
   ``cal_applied = 1``, stage ``calibrated``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contimg.calibration import dp3 as d
from contimg.calibration.calibrators import (
    Transit,
    find_calibrator,
    find_transits,
    load_calibrators,
    nearest_calibrator,
    next_transit_mjd,
    pointing_calibrators,
)
from contimg.calibration.pointing import dec_of_date, drift_pointings
from contimg.calibration.registry import (
    ORDER_INDEX,
    CalSet,
    choose_set,
    set_name_for,
    validity_window,
)
from contimg.config import Settings, get_settings
from contimg.db.engine import Databases
from contimg.db.queries import calibration as cq
from contimg.db.queries import products as pq
from contimg.errors import ContimgError
from contimg.ingest.hooks import PendingGroup, set_calibrator_matcher
from contimg.stages.base import REGISTRY, Phase, StageContext, StageDeferred
from contimg.stages.convert import artifacts_from_db
from contimg.telescope import DSA110

DAY_H = 24.0


def caltables_dir(settings: Settings, set_name: str) -> Path:
    """Where the h5parm files of ``set_name`` live."""
    return settings.products_path / "caltables" / set_name


POINTING_FILE = "pointing.json"
"""Beside a set's tables: the pointing it was solved at (``ra_deg``, ``dec_deg`` ICRS,
``calibrator``, ``mid_mjd``). The lookup applies a set only at its own pointing."""


def write_set_pointing(
    out_dir: Path, *, ra_deg: float, dec_deg: float, calibrator: str, mid_mjd: float
) -> Path:
    path = out_dir / POINTING_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        json.dumps(
            {"ra_deg": ra_deg, "dec_deg": dec_deg, "calibrator": calibrator, "mid_mjd": mid_mjd}
        )
    )
    tmp.replace(path)
    return path


def set_pointing_dec(tables: list[dict[str, Any]]) -> float | None:
    """The pointing Dec a set was solved at, from ``pointing.json`` beside its tables."""
    for t in tables:
        path = Path(str(t["path"])).parent / POINTING_FILE
        try:
            return float(json.loads(path.read_text())["dec_deg"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def lookup_set(
    dbs: Databases,
    settings: Settings,
    *,
    mjd: float,
    dec_deg: float | None = None,
    extrapolate_max_h: float | None = None,
) -> CalSet | None:
    """The set to use for an observation at ``mjd`` (science.md section 6), or None.

    With ``dec_deg`` (the group's ICRS pointing Dec) only sets solved at that pointing
    take part. ``extrapolate_max_h`` overrides ``calibration.extrapolate_max_h``.
    """
    cs = settings.calibration
    max_h = cs.extrapolate_max_h if extrapolate_max_h is None else extrapolate_max_h
    with dbs.cal_registry.read() as conn:
        rows = cq.candidate_rows(
            conn,
            mjd=mjd,
            max_extrapolate_days=max_h / DAY_H
            + max(cs.k_validity_h, cs.bp_validity_h, cs.g_validity_h) / DAY_H,
        )
    set_decs: dict[str, float | None] = {}
    if dec_deg is not None:
        by_set: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_set.setdefault(str(r["set_name"]), []).append(dict(r))
        set_decs = {name: set_pointing_dec(tabs) for name, tabs in by_set.items()}
    return choose_set(
        rows,
        mjd=mjd,
        extrapolate_max_h=max_h,
        dec_deg=dec_deg,
        set_decs=set_decs if dec_deg is not None else None,
        pointing_match_deg=cs.pointing_match_deg,
    )


def solve_transit(
    settings: Settings,
    dbs: Databases,
    runner: d.Dp3Runner,
    *,
    ms_row: dict[str, Any],
    calibrator: str,
    timings: dict[str, float] | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> str:
    """Solve K/BP/G on the (flagged) calibrator MS of ``ms_row`` and register the set.

    Returns the set's name. Re-solving the same transit replaces the set.
    """
    cs = settings.calibration
    ms = Path(ms_row["path"])
    cal = find_calibrator(load_calibrators(cs.calibrators_csv), calibrator)
    mid = float(ms_row["mid_mjd"])
    set_name = set_name_for(cal.name, mid)
    out_dir = caltables_dir(settings, set_name)
    out_dir.mkdir(parents=True, exist_ok=True)
    pointings = drift_pointings(
        ra_deg=float(ms_row["pointing_ra_deg"]),
        dec_deg=float(ms_row["pointing_dec_deg"]),
        mid_mjd=mid,
        start_mjd=float(ms_row["start_mjd"]),
        end_mjd=float(ms_row["end_mjd"]),
    )
    write_set_pointing(
        out_dir,
        ra_deg=float(ms_row["pointing_ra_deg"]),
        dec_deg=float(ms_row["pointing_dec_deg"]),
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


def group_transits(settings: Settings, ms_row: dict[str, Any]) -> list[Transit]:
    """Calibrator transits during the group of ``ms_row`` (an ``ms_index`` row)."""
    mid = float(ms_row["mid_mjd"])
    dec_date = dec_of_date(float(ms_row["pointing_ra_deg"]), float(ms_row["pointing_dec_deg"]), mid)
    return find_transits(
        load_calibrators(settings.calibration.calibrators_csv),
        start_mjd=float(ms_row["start_mjd"]),
        end_mjd=float(ms_row["end_mjd"]),
        dec_deg=dec_date,
        settings=settings.calibration,
    )


def dp3_runner(settings: Settings, log_dir: Path, progress: Callable[[str], None]) -> d.Dp3Runner:
    exe = d.dp3_executable(settings.calibration.dp3_executable)
    return d.Dp3Runner(exe, log_dir=log_dir, progress=progress)


class CalibrateStage:
    """Flag, solve (transit groups), look up and apply calibration."""

    name = "calibrate"
    phase: Phase = "fresh"

    def run(self, ctx: StageContext) -> None:
        art = artifacts_from_db(ctx)
        ms = Path(art["ms_path"])
        cs = ctx.settings.calibration
        with ctx.dbs.products.read() as conn:
            row = pq.get_ms(conn, path=str(ms))
        if row is None:
            raise ContimgError(f"group {ctx.group_id}: {ms} has no ms_index row")
        transits = group_transits(ctx.settings, row)
        with ctx.dbs.ingest.write() as conn:
            cq.record_transits(
                conn, group_id=ctx.group_id, transits=[t.to_json() for t in transits]
            )
        runner = dp3_runner(ctx.settings, ctx.workdir / "logs", ctx.progress)
        flagged = False
        if transits:
            d.flag(runner, ms, aoflagger=cs.aoflagger)
            flagged = True
            solve_transit(
                ctx.settings, ctx.dbs, runner, ms_row=row, calibrator=transits[0].name,
                timings=ctx.timings_s, progress=ctx.progress,
            )  # fmt: skip
        dec = float(row["pointing_dec_deg"])
        chosen = lookup_set(ctx.dbs, ctx.settings, mjd=float(row["mid_mjd"]), dec_deg=dec)
        if chosen is None:
            chosen = self._no_set(ctx, row=row)
            if chosen is None:
                return
        if not flagged:
            d.flag(runner, ms, aoflagger=cs.aoflagger)
        missing = [t["path"] for t in chosen.tables if not Path(t["path"]).is_file()]
        if missing:
            raise ContimgError(
                f"calibration set {chosen.set_name} lists tables that do not exist: "
                f"{', '.join(missing)}; deactivate it ('contimg cal deactivate "
                f"{chosen.set_name}') or re-solve its transit"
            )
        how = f"extrapolated {chosen.distance_h:.1f} h" if chosen.extrapolated else "covering"
        ctx.progress(f"applying {chosen.set_name} ({how})")
        d.apply(
            runner,
            ms,
            [(t["table_type"], Path(t["path"])) for t in chosen.tables],
            label="apply",
        )
        with ctx.dbs.products.write() as conn:
            pq.set_ms_stage(
                conn, path=str(ms), stage="calibrated", status="ok", now=time.time(), cal_applied=1
            )
        ctx.artifacts["cal_set"] = chosen.set_name
        ctx.artifacts["cal_extrapolated"] = chosen.extrapolated

    def _no_set(self, ctx: StageContext, *, row: dict[str, Any]) -> CalSet | None:
        """No set covers the group: wait for a coming transit, else fall back or fail.

        Returns the fallback set to apply, or None to go on uncalibrated.
        """
        cs = ctx.settings.calibration
        mjd = float(row["mid_mjd"])
        dec = float(row["pointing_dec_deg"])
        dec_date = dec_of_date(float(row["pointing_ra_deg"]), dec, mjd)
        cals = load_calibrators(cs.calibrators_csv)
        here = pointing_calibrators(cals, dec_deg=dec_date, settings=cs)
        with ctx.dbs.ingest.read() as conn:
            received = cq.group_received_at(conn, group_id=ctx.group_id)
        now = time.time()
        waited_h = 0.0 if received is None else (now - received) / 3600.0
        msg = (
            f"no active calibration set of pointing Dec {dec:.2f} deg covers MJD {mjd:.5f} "
            f"(nor one within {cs.extrapolate_max_h:g} h)"
        )
        if here:
            nxt = min(
                (next_transit_mjd(p.calibrator, after_mjd=mjd, dec_deg=dec_date), p.calibrator.name)
                for p in here
            )
            wait_h = min(cs.wait_timeout_h, (nxt[0] - mjd) * DAY_H + cs.transit_wait_margin_h)
            cause = (
                f"{msg}; the next transit at this pointing ({nxt[1]}, MJD {nxt[0]:.4f}) gave no set"
            )
            if waited_h < wait_h:
                raise StageDeferred(
                    f"waiting for calibration: {msg}; next calibrator transit at this pointing: "
                    f"{nxt[1]} at MJD {nxt[0]:.4f} ({(nxt[0] - mjd) * DAY_H:.1f} h after the "
                    f"group); waited {waited_h:.2f} h of {wait_h:.2f} h",
                    retry_after_s=cs.retry_after_s,
                )
        else:
            near = nearest_calibrator(cals, dec_deg=dec_date)
            near_txt = (
                ""
                if near is None
                else f"; nearest in Dec: {near[0].name} at Dec {near[0].dec_deg:.2f} "
                f"({near[1]:.2f} deg away)"
            )
            cause = (
                f"{msg}; NO CALIBRATOR of the calibrator list transits pointing Dec {dec:.2f} "
                f"deg (within {cs.transit_max_sep_deg:g} deg and at least {cs.min_flux_jy:g} Jy "
                f"apparent){near_txt}"
            )
        fallback = lookup_set(
            ctx.dbs,
            ctx.settings,
            mjd=mjd,
            dec_deg=dec,
            extrapolate_max_h=cs.fallback_max_days * DAY_H,
        )
        if fallback is not None:
            note = (
                f"EXTRAPOLATED calibration: {cause}; applied the nearest set of this pointing, "
                f"{fallback.set_name}, {fallback.distance_h:.1f} h away"
            )
            ctx.progress(note)
            ctx.notes.append(note)
            return CalSet(
                fallback.set_name,
                fallback.tables,
                extrapolated=True,
                distance_h=fallback.distance_h,
            )
        if ctx.settings.imaging.allow_uncalibrated:
            note = f"UNCALIBRATED: {cause}; imaging DATA (imaging.allow_uncalibrated)"
            ctx.progress(note)
            ctx.notes.append(note)
            ctx.artifacts["cal_set"] = None
            return None
        raise ContimgError(
            f"group {ctx.group_id} cannot be calibrated: {cause}; no set of this pointing within "
            f"{cs.fallback_max_days:g} days either (waited {waited_h:.1f} h). Solve a transit "
            "('contimg cal solve MS'), add a calibrator for this Dec to the list "
            "(calibration.calibrators_csv) or set imaging.allow_uncalibrated, then "
            "'contimg queue retry'"
        )


def match_pending(group: PendingGroup) -> list[dict[str, Any]] | None:
    """Calibrator matcher for the ingest hook: the calibrators transiting ``group``.

    One record per calibrator (name, RA, Dec, 20 cm flux, separation from the meridian
    pointing at mid-time and its smallest value during the group), from the headers'
    time range and pointing Dec. ``None`` (cannot tell) when those are unknown. The
    calibrate stage recomputes the record from the Measurement Set (Dec of date) and
    stores it again, so the queue always shows what calibration used.
    """
    if group.start_jd is None or group.end_jd is None or group.dec_deg is None:
        return None
    cs = get_settings().calibration
    transits = find_transits(
        load_calibrators(cs.calibrators_csv),
        start_mjd=group.start_jd - 2400000.5,
        end_mjd=group.end_jd - 2400000.5,
        dec_deg=group.dec_deg,
        settings=cs,
    )
    return [t.to_json() for t in transits]


REGISTRY.register(CalibrateStage(), order=20)
set_calibrator_matcher(match_pending)
