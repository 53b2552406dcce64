"""Imaging stage: WSClean, Airy primary-beam correction, ``images`` rows.

Products in the group's directory: ``<group_id>-image.fits`` (restored),
``<group_id>-residual.fits``, ``<group_id>-image-pb.fits`` (pb-corrected) plus
WSClean's model and psf. A re-run overwrites the files and replaces the rows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from contimg.calibration.pointing import drift_pointings
from contimg.catalog.footprint import sources_in_image
from contimg.config import ImagingSettings
from contimg.db.engine import Database
from contimg.db.queries import products as pq
from contimg.errors import ContimgError
from contimg.imaging.mask import ms_mask_header, write_mask
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
        obs = row.observation()
        pointings = drift_pointings(
            ra_deg=obs.pointing_ra_deg,
            dec_deg=obs.pointing_dec_deg,
            mid_mjd=obs.mid_mjd,
            start_mjd=obs.start_mjd,
            end_mjd=obs.end_mjd,
        )
        mask = self._clean_mask(ctx, ms, prefix, pointings)
        products = run_wsclean(
            ctx.settings.imaging, ms_path=ms, prefix=prefix, data_column=column,
            mask=mask, progress=ctx.progress,
        )  # fmt: skip
        for product in (products.image, products.residual):
            add_mjd_obs(product)
        pbcor = Path(f"{prefix}-image-pb.fits")
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

    @staticmethod
    def _clean_mask(
        ctx: StageContext, ms: Path, prefix: Path, pointings: list[tuple[float, float]]
    ) -> Path | None:
        """The catalogue's CLEAN mask for this group (``imaging.clean_mask``), or None for
        WSClean's automatic mask (also when no catalogued source is bright enough)."""
        cfg = ctx.settings.imaging
        if cfg.clean_mask != "catalog":
            return None
        path = prefix.with_name(prefix.name + ".clean-mask.fits")
        n = write_catalog_mask(
            ctx.dbs.master_sources, cfg, ms_path=ms, pointings=pointings, out=path
        )
        if n == 0:
            ctx.progress(
                f"no catalogued source reaches {cfg.clean_mask_min_apparent_mjy:g} mJy "
                "apparent on the image: CLEAN finds its own mask"
            )
            return None
        ctx.progress(f"CLEAN mask: {n} catalogued sources")
        return path


def write_catalog_mask(
    master_sources: Database,
    settings: ImagingSettings,
    *,
    ms_path: Path,
    pointings: Sequence[tuple[float, float]],
    out: Path,
) -> int:
    """Write the CLEAN mask of ``ms_path``'s image to ``out`` from the ``master_sources``
    catalogue (:func:`contimg.imaging.mask.write_mask`). Returns how many sources it
    holds; 0 writes nothing."""
    header = ms_mask_header(ms_path, settings)
    size = int(header["NAXIS1"])
    hits = sources_in_image(master_sources, wcs=header, shape=(size, size))
    return write_mask(
        header, settings, pointings=pointings, out=out,
        ra_deg=[h[0].ra_deg for h in hits], dec_deg=[h[0].dec_deg for h in hits],
        flux_mjy=[h[0].flux_mjy or 0.0 for h in hits],
        major_arcsec=[h[0].first_size_maj_arcsec or 0.0 for h in hits],
    )  # fmt: skip
