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

The lookup, the solve and the decision when no set covers a group are services of
:mod:`contimg.calibration.lookup`, :mod:`contimg.calibration.solve` (both also behind
``contimg cal``) and :mod:`contimg.calibration.fallback`; the matcher that
records transits when a group becomes pending is :mod:`contimg.calibration.matcher`.
"""

from __future__ import annotations

import time
from pathlib import Path

from contimg.calibration import dp3 as d
from contimg.calibration.fallback import when_no_set
from contimg.calibration.lookup import lookup_set
from contimg.calibration.registry import CalSet
from contimg.calibration.solve import dp3_runner, group_transits, solve_transit
from contimg.db.queries import calibration as cq
from contimg.db.queries import products as pq
from contimg.db.queries.products import MsRow
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
        obs = row.observation()
        chosen = lookup_set(ctx.dbs, ctx.settings, mjd=obs.mid_mjd, dec_deg=obs.pointing_dec_deg)
        if chosen is None:
            chosen = self._no_set(ctx, row=row)
            if chosen is None:
                return
        if not flagged:
            d.flag(runner, ms, aoflagger=cs.aoflagger)
        missing = [t.path for t in chosen.tables if not Path(t.path).is_file()]
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
            [(t.table_type, Path(t.path)) for t in chosen.tables],
            label="apply",
        )
        with ctx.dbs.products.write() as conn:
            pq.set_ms_stage(
                conn, path=str(ms), stage="calibrated", status="ok", now=time.time(), cal_applied=1
            )
        ctx.artifacts["cal_set"] = chosen.set_name
        ctx.artifacts["cal_extrapolated"] = chosen.extrapolated

    def _no_set(self, ctx: StageContext, *, row: MsRow) -> CalSet | None:
        """No set covers the group: wait for a coming transit, else fall back or fail.

        Returns the fallback set to apply, or None to go on uncalibrated.
        """
        outcome = when_no_set(ctx.dbs, ctx.settings, group_id=ctx.group_id, ms_row=row)
        if outcome.action == "wait":
            raise StageDeferred(outcome.message, retry_after_s=outcome.retry_after_s)
        ctx.progress(outcome.message)
        ctx.notes.append(outcome.message)
        if outcome.cal_set is None:
            ctx.artifacts["cal_set"] = None
        return outcome.cal_set
