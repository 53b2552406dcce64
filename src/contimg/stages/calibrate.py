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

The lookup and the solve are services of :mod:`contimg.calibration.lookup` and
:mod:`contimg.calibration.solve` (also behind ``contimg cal``); the matcher that
records transits when a group becomes pending is :mod:`contimg.calibration.matcher`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from contimg.calibration import dp3 as d
from contimg.calibration.calibrators import (
    load_calibrators,
    nearest_calibrator,
    next_transit_mjd,
    pointing_calibrators,
)
from contimg.calibration.lookup import DAY_H, lookup_set
from contimg.calibration.pointing import dec_of_date
from contimg.calibration.registry import CalSet
from contimg.calibration.solve import dp3_runner, group_transits, solve_transit
from contimg.db.queries import calibration as cq
from contimg.db.queries import products as pq
from contimg.errors import ContimgError
from contimg.stages.artifacts import artifacts_from_db
from contimg.stages.base import Phase, StageContext, StageDeferred


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
