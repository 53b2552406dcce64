"""Photometry stage: forced photometry, normalisation, variability and ESE flags.

For the pb-corrected image of a group (``ctx.artifacts["image_paths"]["pbcor"]``,
else the restored image; rebuilt from the ``images`` rows after a crash), in ONE
write transaction, so a killed worker leaves nothing half-done and a re-run
replaces rather than duplicates:

1. every catalog source in the image above ``photometry.flux_limit_mjy`` (plus the
   image's ``final_references``) is measured (:mod:`contimg.science.photometry`);
2. the image's flux-scale correction is derived from its references and applied
   (:mod:`contimg.science.normalisation`), baselines being set and frozen on the way;
3. ``variability_stats`` of each measured source is updated from its running state
   (``variability_sums``), in a time independent of the light curve's length;
   sources that had rows from an earlier run of this image are recomputed in full;
4. ESE rules flag 'variability' and 'rapid_change' candidates.

This module only adapts a stage context to the services: the work is
:func:`contimg.photometry.image.process_image` (steps 1-2) and
:mod:`contimg.variability` (steps 3-4), which are also the library behind
``contimg variability`` and ``contimg ese``.
"""

from __future__ import annotations

import time
from pathlib import Path

from contimg.db.queries import products as prq
from contimg.errors import ContimgError
from contimg.photometry.image import process_image
from contimg.stages.artifacts import is_calibrator_group
from contimg.stages.base import Phase, StageContext


def _image_and_mjd(ctx: StageContext) -> tuple[Path, float]:
    """The image to measure and the observation mid-time, from artifacts or the database."""
    paths = ctx.artifacts.get("image_paths") or {}
    mid = ctx.artifacts.get("mid_mjd")
    chosen = paths.get("pbcor") or paths.get("image")
    if chosen is None or mid is None:
        ms_path = ctx.artifacts.get("ms_path") or ctx.workdir / f"{ctx.group_id}.ms"
        with ctx.dbs.products.read() as conn:
            ms = prq.get_ms(conn, path=str(ms_path))
            rows = prq.images_for_ms(conn, ms_path=str(ms_path))
        if ms is None:
            raise ContimgError(
                f"group {ctx.group_id}: no ms_index row for {ms_path}; "
                "run conversion and imaging first"
            )
        by_type = {r.type: r.path for r in rows}
        if chosen is None:
            chosen = by_type.get("pbcor") or by_type.get("image")
        if mid is None:
            mid = ms.mid_mjd
    if chosen is None:
        raise ContimgError(f"group {ctx.group_id}: no image recorded; run imaging first")
    if mid is None:
        raise ContimgError(f"group {ctx.group_id}: the MS has no mid_mjd")
    return Path(chosen), float(mid)


class PhotometryStage:
    """Forced photometry, normalisation, variability and ESE of a group's image."""

    name = "photometry"
    phase: Phase = "fresh"

    def run(self, ctx: StageContext) -> None:
        if not ctx.settings.imaging.calibrator_groups and (
            ctx.artifacts.get("image_skipped") or is_calibrator_group(ctx)
        ):
            ctx.progress("calibrator transit: not imaged, nothing to measure")
            return
        t0 = time.perf_counter()
        image_path, mid = _image_and_mjd(ctx)
        result = process_image(
            ctx.dbs, ctx.settings, image_path=image_path, mid_mjd=mid, progress=ctx.progress
        )
        ctx.artifacts["photometry"] = result
        ctx.timings_s["photometry_time"] = time.perf_counter() - t0
