"""Differential flux-scale normalisation of images (science.md section 2).

Each image's flux scale wanders by a few percent. Steady, compact, bright
reference sources measured in the image give its correction ``c``:

* baseline of a reference: median of its first (at most ``max_epochs`` = 10) good
  raw measurements, needing at least ``min_epochs`` = 3; frozen once set;
* ``c`` = median of raw/baseline over the image's references, after rejecting
  ratios more than ``clip_sigma`` = 3 robust sigma (1.4826 MAD) from the median;
  at least ``min_refs`` = 3 must remain, else the image is left raw;
* ``sigma_c`` = sqrt(pi/2) * 1.4826 MAD / sqrt(n) (the standard error of a median);
* normalised flux = raw / c, error = sqrt((err/c)^2 + (raw sigma_c / c^2)^2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

MAD_TO_SIGMA = 1.482602218505602
MEDIAN_EFFICIENCY = math.sqrt(math.pi / 2.0)


@dataclass(frozen=True)
class Correction:
    """Flux-scale correction of one image."""

    factor: float
    """c: divide raw fluxes by it."""
    factor_err: float
    """Standard error of c."""
    n_refs: int
    """References used (after rejection)."""
    n_rejected: int


def baseline(
    raw_jyb_by_time: ArrayLike, *, max_epochs: int = 10, min_epochs: int = 3
) -> float | None:
    """Baseline of a reference from its good raw measurements in time order, or None.

    Parameters
    ----------
    raw_jyb_by_time : array_like
        Good raw peak fluxes (Jy/beam), oldest first, shape ``(n,)``.
    """
    raw = np.asarray(raw_jyb_by_time, dtype=np.float64)
    raw = raw[np.isfinite(raw)]
    if raw.size < min_epochs:
        return None
    return float(np.median(raw[:max_epochs]))


def image_correction(
    raw_jyb: ArrayLike,
    baseline_jyb: ArrayLike,
    *,
    clip_sigma: float = 3.0,
    min_refs: int = 3,
) -> Correction | None:
    """The correction of one image from its references, or None if too few remain.

    Parameters
    ----------
    raw_jyb, baseline_jyb : array_like
        Raw flux of each reference in this image and its baseline, shape ``(n,)``.
    """
    raw = np.asarray(raw_jyb, dtype=np.float64)
    base = np.asarray(baseline_jyb, dtype=np.float64)
    ok = np.isfinite(raw) & np.isfinite(base) & (base > 0)
    ratio = raw[ok] / base[ok]
    if ratio.size < min_refs:
        return None
    med = float(np.median(ratio))
    sigma = MAD_TO_SIGMA * float(np.median(np.abs(ratio - med)))
    kept = ratio[np.abs(ratio - med) <= clip_sigma * sigma] if sigma > 0 else ratio
    if kept.size < min_refs:
        return None
    c = float(np.median(kept))
    if not c > 0:
        return None
    spread = MAD_TO_SIGMA * float(np.median(np.abs(kept - c)))
    c_err = MEDIAN_EFFICIENCY * spread / math.sqrt(kept.size)
    return Correction(
        factor=c, factor_err=c_err, n_refs=int(kept.size), n_rejected=int(ratio.size - kept.size)
    )


def apply_correction(
    raw_jyb: ArrayLike, raw_err_jyb: ArrayLike, correction: Correction
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Normalised fluxes and errors (Jy/beam); the error of ``c`` added in quadrature."""
    raw = np.asarray(raw_jyb, dtype=np.float64)
    err = np.asarray(raw_err_jyb, dtype=np.float64)
    c, dc = correction.factor, correction.factor_err
    norm = raw / c
    norm_err = np.sqrt((err / c) ** 2 + (raw * dc / c**2) ** 2)
    return norm, norm_err
