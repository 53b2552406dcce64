"""Imaging stage: WSClean, Airy primary-beam correction, ``images`` rows.

Products in the group's directory: ``<group_id>-image.fits`` (restored),
``<group_id>-residual.fits``, ``<group_id>-image-pb.fits`` (pb-corrected) plus
WSClean's model and psf. A re-run overwrites the files and replaces the rows.
"""

from __future__ import annotations

import time
from pathlib import Path

from contimg.calibration.pointing import drift_pointings
from contimg.db.queries import products as pq
from contimg.errors import ContimgError
from contimg.imaging.products import add_mjd_obs, image_rows, pb_correct, residual_noise_jy
from contimg.imaging.wsclean import run_wsclean
from contimg.stages.artifacts import artifacts_from_db, is_calibrator_group
from contimg.stages.base import Phase, StageContext


class ImageStage:
    """WSClean image, pb-corrected image and residual of a calibrated group."""

    name = "image"
    phase: Phase = "fresh"

    def run(self, ctx: StageContext) -> None:
        if not ctx.settings.imaging.calibrator_groups and is_calibrator_group(ctx):
            ctx.progress("calibrator transit: not imaged (imaging.calibrator_groups = false)")
            ctx.artifacts["image_skipped"] = True
            return
        art = artifacts_from_db(ctx)
        ms = Path(art["ms_path"])
        with ctx.dbs.products.read() as conn:
            row = pq.get_ms(conn, path=str(ms))
        if row is None:
            raise ContimgError(f"group {ctx.group_id}: {ms} has no ms_index row")
        calibrated = int(row.cal_applied or 0) == 1
        if not calibrated and not ctx.settings.imaging.allow_uncalibrated:
            raise ContimgError(
                f"group {ctx.group_id}: {ms} is not calibrated (cal_applied = 0); refusing to "
                "image it (set imaging.allow_uncalibrated to image raw data)"
            )
        column = "CORRECTED_DATA" if calibrated else "DATA"
        t0 = time.perf_counter()
        prefix = ctx.workdir / ctx.group_id
        products = run_wsclean(
            ctx.settings.imaging, ms_path=ms, prefix=prefix, data_column=column,
            progress=ctx.progress,
        )  # fmt: skip
        for product in (products.image, products.residual):
            add_mjd_obs(product)
        pbcor = Path(f"{prefix}-image-pb.fits")
        obs = row.observation()
        pointings = drift_pointings(
            ra_deg=obs.pointing_ra_deg,
            dec_deg=obs.pointing_dec_deg,
            mid_mjd=obs.mid_mjd,
            start_mjd=obs.start_mjd,
            end_mjd=obs.end_mjd,
        )
        pb_correct(products.image, pbcor, pointings=pointings, pb_cut=ctx.settings.imaging.pb_cut)
        noise = residual_noise_jy(products.residual)
        now = time.time()
        rows = image_rows(
            ms_path=ms,
            paths={"image": products.image, "pbcor": pbcor, "residual": products.residual},
            noise_jy=noise,
            field_name=str(row.field_name),
            integration_s=(obs.end_mjd - obs.start_mjd) * 86400.0,
            now=now,
        )
        with ctx.dbs.products.write() as conn:
            pq.replace_images(conn, ms_path=str(ms), rows=rows)
            pq.set_ms_stage(
                conn, path=str(ms), stage="imaged", status="ok", now=now,
                imagename=str(products.image),
            )  # fmt: skip
        ctx.artifacts["image_paths"] = {
            "image": products.image,
            "pbcor": pbcor,
            "residual": products.residual,
        }
        ctx.timings_s["imaging_time"] = time.perf_counter() - t0
