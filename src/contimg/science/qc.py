"""Image quality control before an image's photometry enters the light curves.

Two steps (``docs/photometry.md``, "Image quality control"):

1. :func:`check_image`: the image itself. An image that cannot be measured
   sensibly (all pixels zero, too many NaN/blanked pixels in the central region, no
   or a non-positive restoring beam in its header) is rejected before forced
   photometry: nothing is measured on it.
2. :func:`compare_with_survey`: the image against the survey's accepted images
   (medians over the ``image_qc`` rows with status 'ok'): a robust noise, a beam
   major or minor axis, or (after normalisation) a flux-scale correction that lies
   far from the others. A rejected image is still measured and stored, every row
   with the ``QC_REJECTED`` flag bit, so nothing is lost; the bit keeps it out of
   baselines, normalisation, statistics and ESE rules.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from contimg.science.image import FitsImage, FitsPlane, fits_image
from contimg.science.noise import MAD_TO_SIGMA

MAX_BLANKED_FRACTION = 0.01
"""Largest fraction of NaN/blanked pixels tolerated in the image's central region."""
NOISE_RATIO_MAX = 1.5
"""Reject an image whose robust noise exceeds the accepted images' median by this factor."""
BEAM_RATIO_MAX = 1.25
"""Reject an image whose beam axis differs from the accepted images' median by this factor."""
SCALE_DEVIATION_MAX = 0.10
"""Reject an image whose flux-scale correction differs from the accepted median by this."""
MIN_HISTORY = 3
"""Accepted images needed before the survey comparisons apply."""


@dataclass
class QcResult:
    """What quality control measured on one image and its verdict."""

    reasons: list[str] = field(default_factory=list)
    noise_jy: float | None = None
    beam_major_arcsec: float | None = None
    beam_minor_arcsec: float | None = None
    beam_pa_deg: float | None = None
    blanked_fraction: float | None = None
    norm_factor: float | None = None

    @property
    def status(self) -> str:
        return "rejected" if self.reasons else "ok"

    def row(self, image_path: str, now: float) -> dict[str, Any]:
        import json

        return {
            "image_path": image_path,
            "status": self.status,
            "reasons": json.dumps(self.reasons) if self.reasons else None,
            "noise_jy": self.noise_jy,
            "beam_major_arcsec": self.beam_major_arcsec,
            "beam_minor_arcsec": self.beam_minor_arcsec,
            "beam_pa_deg": self.beam_pa_deg,
            "blanked_fraction": self.blanked_fraction,
            "norm_factor": self.norm_factor,
            "checked_at": now,
        }


def _finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def central_region(data: np.ndarray, fraction: float = 0.5) -> np.ndarray:
    """The central ``fraction`` x ``fraction`` box of a 2-D image."""
    ny, nx = data.shape
    hy, hx = max(1, int(ny * fraction / 2)), max(1, int(nx * fraction / 2))
    cy, cx = ny // 2, nx // 2
    return data[cy - hy : cy + hy, cx - hx : cx + hx]


def robust_noise(values: np.ndarray) -> float | None:
    """1.4826 x MAD of the finite values, clipped once at 5 sigma (sources)."""
    v = values[np.isfinite(values)].astype(np.float64)
    if v.size < 16:
        return None
    for _ in range(2):
        med = float(np.median(v))
        sigma = MAD_TO_SIGMA * float(np.median(np.abs(v - med)))
        if not sigma > 0:
            return 0.0
        v = v[np.abs(v - med) <= 5.0 * sigma]
    return sigma


def check_image(plane: FitsPlane) -> tuple[FitsImage | None, QcResult]:
    """Check an image plane on its own before photometry.

    Returns the :class:`~contimg.science.image.FitsImage` (None when the image cannot
    be measured) and the QC result with the reasons found so far. (A file that is
    missing or is not FITS raises :class:`ContimgError` when it is read, in
    :func:`contimg.imaging.fits.read_plane`: that is not a quality problem but a
    broken product.)
    """
    res = QcResult()
    header = plane.header
    bmaj = _finite(header.get("BMAJ"))
    bmin = _finite(header.get("BMIN"))
    res.beam_pa_deg = _finite(header.get("BPA"))
    if bmaj is None or bmin is None:
        res.reasons.append("no restoring beam in the header (BMAJ/BMIN missing or not a number)")
    else:
        res.beam_major_arcsec, res.beam_minor_arcsec = 3600.0 * bmaj, 3600.0 * bmin
        if not (bmaj > 0 and bmin > 0):
            res.reasons.append(
                f'restoring beam {res.beam_major_arcsec:.3g}" x {res.beam_minor_arcsec:.3g}" '
                "is not positive"
            )
        elif bmin > bmaj * 1.0001:
            res.reasons.append(
                f'restoring beam minor axis {res.beam_minor_arcsec:.3g}" exceeds its major axis '
                f'{res.beam_major_arcsec:.3g}"'
            )
    if res.reasons:
        return None, res
    image = fits_image(plane)
    from astropy.wcs.utils import proj_plane_pixel_scales

    cell_arcsec = 3600.0 * float(np.min(proj_plane_pixel_scales(image.wcs)))
    assert res.beam_major_arcsec is not None and res.beam_minor_arcsec is not None
    if not 0.5 * cell_arcsec <= res.beam_minor_arcsec:
        res.reasons.append(
            f'restoring beam minor axis {res.beam_minor_arcsec:.3g}" is below half a pixel '
            f'({cell_arcsec:.3g}"): a wrong beam in the header'
        )
    elif res.beam_major_arcsec > 200.0 * cell_arcsec:
        res.reasons.append(
            f'restoring beam major axis {res.beam_major_arcsec:.3g}" spans more than 200 '
            f'pixels ({cell_arcsec:.3g}" each): a wrong beam in the header'
        )
    if res.reasons:
        return None, res
    centre = central_region(image.data)
    blanked = float(np.mean(~np.isfinite(centre)))
    res.blanked_fraction = blanked
    finite = image.data[np.isfinite(image.data)]
    if finite.size == 0:
        res.reasons.append("every pixel is NaN or blanked")
        return None, res
    if not np.any(finite != 0):
        res.reasons.append("every pixel is zero (no data)")
        return None, res
    if blanked > MAX_BLANKED_FRACTION:
        res.reasons.append(
            f"{100 * blanked:.1f} % of the central pixels are NaN or blanked "
            f"(limit {100 * MAX_BLANKED_FRACTION:g} %)"
        )
        return None, res
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res.noise_jy = robust_noise(centre)
    if not res.noise_jy:
        res.reasons.append("the central region has no noise (constant pixel values)")
        return None, res
    return image, res


@dataclass(frozen=True)
class SurveyMedians:
    """Medians over the accepted images (None: too few yet)."""

    n: int
    noise_jy: float | None
    beam_major_arcsec: float | None
    beam_minor_arcsec: float | None
    norm_factor: float | None


class QcValues(Protocol):
    """What :func:`medians` reads of an accepted image's QC row (``image_qc``)."""

    @property
    def noise_jy(self) -> float | None: ...
    @property
    def beam_major_arcsec(self) -> float | None: ...
    @property
    def beam_minor_arcsec(self) -> float | None: ...
    @property
    def norm_factor(self) -> float | None: ...


def medians(rows: Sequence[QcValues]) -> SurveyMedians:
    """Medians of the accepted images' QC rows."""

    def med(values: Iterable[float | None]) -> float | None:
        vals = [float(v) for v in values if v is not None]
        return float(np.median(vals)) if len(vals) >= MIN_HISTORY else None

    return SurveyMedians(
        len(rows), med(r.noise_jy for r in rows), med(r.beam_major_arcsec for r in rows),
        med(r.beam_minor_arcsec for r in rows), med(r.norm_factor for r in rows),
    )  # fmt: skip


def compare_with_survey(res: QcResult, survey: SurveyMedians, field: SurveyMedians) -> None:
    """Append reasons for a beam far from the accepted images' medians (``survey``)
    or a noise far from the accepted images' of the same field (``field``: the noise
    depends on the sources in the field)."""
    if res.noise_jy is not None and field.noise_jy:
        ratio = res.noise_jy / field.noise_jy
        if ratio > NOISE_RATIO_MAX:
            res.reasons.append(
                f"noise {1e3 * res.noise_jy:.2f} mJy/beam is {ratio:.2f} x the median of the "
                f"field's accepted images ({1e3 * field.noise_jy:.2f} mJy/beam; limit "
                f"{NOISE_RATIO_MAX:g} x)"
            )
    for axis, value, ref in (
        ("major", res.beam_major_arcsec, survey.beam_major_arcsec),
        ("minor", res.beam_minor_arcsec, survey.beam_minor_arcsec),
    ):
        if value and ref:
            ratio = value / ref
            if not 1.0 / BEAM_RATIO_MAX <= ratio <= BEAM_RATIO_MAX:
                res.reasons.append(
                    f'beam {axis} axis {value:.1f}" is {ratio:.2f} x the median of the accepted '
                    f'images ({ref:.1f}"; limit {BEAM_RATIO_MAX:g} x either way)'
                )


def compare_scale(res: QcResult, factor: float | None, survey: SurveyMedians) -> None:
    """Append a reason when the flux-scale correction is far from the accepted median."""
    res.norm_factor = factor
    if factor is None or not survey.norm_factor:
        return
    dev = factor / survey.norm_factor - 1.0
    if abs(dev) > SCALE_DEVIATION_MAX:
        res.reasons.append(
            f"flux-scale correction {factor:.3f} is {100 * dev:+.1f} % from the median of the "
            f"accepted images ({survey.norm_factor:.3f}; limit {100 * SCALE_DEVIATION_MAX:g} %): "
            "a calibration problem"
        )
