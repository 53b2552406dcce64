"""Photometry, normalisation, variability and ESE of one image, in one transaction."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.queries import photometry as pq
from contimg.db.queries import products as prq
from contimg.db.queries import variability as vq
from contimg.db.queries.products import ImageRow
from contimg.errors import ContimgError
from contimg.imaging.fits import read_plane
from contimg.photometry.measure import catalog_sources_in_image, measure
from contimg.photometry.normalise import normalise_image
from contimg.science import qc
from contimg.science.confusion import default_sidelobe_level
from contimg.science.flags import PhotFlag
from contimg.telescope import DSA110, PRESET_ANTENNAS
from contimg.variability.candidates import thresholds
from contimg.variability.measurements import Good, is_good
from contimg.variability.rebuild import recompute_sources
from contimg.variability.update import update_variability

log = logging.getLogger(__name__)


@dataclass
class ImageResult:
    """What one image's photometry produced."""

    image_path: str
    n_measured: int
    n_good: int
    correction: float | None
    n_refs: int
    n_candidates: int


def process_image(
    dbs: Databases,
    settings: Settings,
    *,
    image_path: Path,
    mid_mjd: float,
    now: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> ImageResult:
    """Photometry, normalisation, variability and ESE for one image (one transaction)."""
    cfg = settings.photometry
    now = time.time() if now is None else now
    report = progress or (lambda msg: log.info("%s", msg))
    key = str(image_path)
    image, qc_res = qc.check_image(read_plane(image_path))
    if image is None:
        return _reject_unmeasurable(dbs, settings, key, qc_res, now=now, report=report)
    entries = catalog_sources_in_image(dbs, image, min_flux_mjy=cfg.flux_limit_mjy)
    report(f"photometry: {len(entries)} catalog sources in {image_path.name}")
    m = measure(image, entries, cfg, sidelobe_level=array_sidelobe_level(settings))
    with dbs.products.write() as conn:
        info = pq.image_row(conn, path=key)
        if info is None:
            raise ContimgError(
                f"image {key} has no 'images' row; the imaging stage records it before photometry"
            )
        survey = qc.medians(pq.accepted_qc_rows(conn, exclude=key))
        field = (
            qc.medians(pq.accepted_qc_rows(conn, exclude=key, field_name=info.field_name))
            if info.field_name
            else survey  # no field recorded: the noise is compared with every image's
        )
        qc.compare_with_survey(qc_res, survey, field)
        if qc_res.reasons:
            m.flags |= int(PhotFlag.QC_REJECTED)
        previous = pq.replace_image_photometry(conn, image_path=key, rows=[])
        pending: list[dict[str, Any]] = []
        norm, norm_err, c, c_err, n_refs = normalise_image(
            conn, image_path=key, m=m, mjd=mid_mjd, cfg=cfg, now=now, pending_baselines=pending,
            centre_deg=_centre(info),
        )  # fmt: skip
        if not qc_res.reasons:
            qc.compare_scale(qc_res, c, survey)
            if qc_res.reasons:
                m.flags |= int(PhotFlag.QC_REJECTED)
        if not qc_res.reasons:
            pq.insert_baselines(conn, rows=pending)
        else:
            report(f"photometry: {image_path.name} rejected by quality control: "
                   + "; ".join(qc_res.reasons))  # fmt: skip
        pq.record_image_qc(conn, row=qc_res.row(key, now))
        rows = []
        good: list[Good] = []
        for i, e in enumerate(entries):
            flags = int(m.flags[i])
            finite = math.isfinite(norm[i]) and math.isfinite(norm_err[i])
            peak = float(norm[i]) if finite else 0.0
            err = float(norm_err[i]) if finite else None
            snr = peak / err if err else None
            raw = float(m.raw[i]) if math.isfinite(m.raw[i]) else None
            raw_err = float(m.raw_err[i]) if math.isfinite(m.raw_err[i]) else None
            rows.append((
                key, e.source_id, e.ra_deg, e.dec_deg, e.nvss_flux_mjy, peak, err, snr, now,
                mid_mjd, float(m.sep_deg[i]), flags, raw, raw_err, c, c_err,
            ))  # fmt: skip
            if finite and is_good(flags, err, peak):
                assert err is not None
                good.append(
                    Good(
                        e.source_id,
                        1e3 * peak,
                        1e3 * err,
                        mid_mjd,
                        now,
                        e.ra_deg,
                        e.dec_deg,
                        e.nvss_flux_mjy,
                    )
                )
        pq.insert_photometry(conn, rows=rows)
        n_cand = update_variability(
            conn, new=good, recompute_ids=previous, th=thresholds(cfg), now=now
        )
        image_info = pq.image_row(conn, path=key)
        if image_info is not None:
            prq.set_ms_stage(
                conn, path=str(image_info.ms_path), stage="photometry_complete", status="ok",
                now=now,
            )  # fmt: skip
    report(
        f"photometry: {len(rows)} rows ({len(good)} good), correction "
        f"{'none' if c is None else f'{c:.4f}'} from {n_refs} references, {n_cand} ESE updates"
    )
    return ImageResult(key, len(rows), len(good), c, n_refs, n_cand)


def _reject_unmeasurable(
    dbs: Databases, settings: Settings, key: str, qc_res: qc.QcResult, *, now: float,
    report: Callable[[str], None],
) -> ImageResult:  # fmt: skip
    """Record an image that cannot be measured (quality control) without measuring it.

    Rows from an earlier run of the image are kept, flagged ``QC_REJECTED``, and their
    sources' statistics recomputed without them: nothing stored is lost.
    """
    th = thresholds(settings.photometry)
    with dbs.products.write() as conn:
        info = pq.image_row(conn, path=key)
        if info is None:
            raise ContimgError(
                f"image {key} has no 'images' row; the imaging stage records it before photometry"
            )
        pq.record_image_qc(conn, row=qc_res.row(key, now))
        touched = pq.flag_image_rows(conn, image_path=key, bit=int(PhotFlag.QC_REJECTED))
        if touched:
            (stats_rows, sums_rows), _found = recompute_sources(conn, touched, th=th, now=now)
            vq.upsert_stats(conn, rows=stats_rows)
            vq.upsert_sums(conn, rows=sums_rows)
        prq.set_ms_stage(
            conn, path=str(info.ms_path), stage="photometry_complete", status="ok", now=now
        )
    report(f"photometry: {Path(key).name} rejected by quality control, not measured: "
           + "; ".join(qc_res.reasons))  # fmt: skip
    return ImageResult(key, 0, 0, None, 0, 0)


def _centre(info: ImageRow) -> tuple[float, float] | None:
    """The image centre (RA, Dec in degrees) from its ``images`` row, if recorded."""
    ra, dec = info.center_ra_deg, info.center_dec_deg
    if ra is None or dec is None:
        return None
    return float(ra) % 360.0, float(dec)


def array_sidelobe_level(settings: Settings) -> float:
    """The confusion test's sidelobe level: ``photometry.sidelobe_level`` when set, else
    the one for the array of the imaging preset."""
    if settings.photometry.sidelobe_level is not None:
        return settings.photometry.sidelobe_level
    n_ant = PRESET_ANTENNAS.get(settings.imaging.preset, DSA110.n_antennas_typical)
    return default_sidelobe_level(n_ant)
