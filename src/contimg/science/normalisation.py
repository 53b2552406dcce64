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

from contimg.science.noise import MAD_TO_SIGMA

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
    scatter: float = 0.0
    """Fractional scatter of the kept references' ratios beyond their own noise: the
    part of the flux-scale error that differs from source to source in this image
    (calibration errors that vary across the field). Added in quadrature, as a
    fraction of the flux, to every normalised error (0 when not estimated)."""


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
    raw_err_jyb: ArrayLike | None = None,
    baseline_err_jyb: ArrayLike | None = None,
) -> Correction | None:
    """The correction of one image from its references, or None if too few remain.

    Parameters
    ----------
    raw_jyb, baseline_jyb : array_like
        Raw flux of each reference in this image and its baseline, shape ``(n,)``.
    raw_err_jyb, baseline_err_jyb : array_like, optional
        Their errors: with them the references' scatter beyond their noise is
        estimated (:attr:`Correction.scatter`).
    """
    raw = np.asarray(raw_jyb, dtype=np.float64)
    base = np.asarray(baseline_jyb, dtype=np.float64)
    ok = np.isfinite(raw) & np.isfinite(base) & (base > 0)
    ratio = raw[ok] / base[ok]
    noise2 = None
    if raw_err_jyb is not None:
        rel = np.asarray(raw_err_jyb, dtype=np.float64)[ok] / np.abs(raw[ok])
        noise2 = rel**2
        if baseline_err_jyb is not None:
            noise2 = noise2 + (np.asarray(baseline_err_jyb, dtype=np.float64)[ok] / base[ok]) ** 2
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
    scatter = 0.0
    if noise2 is not None:
        keep_mask = (
            np.abs(ratio - med) <= clip_sigma * sigma if sigma > 0 else np.ones_like(ratio, bool)
        )
        expected = float(np.median(noise2[keep_mask])) * c * c
        scatter = math.sqrt(max(0.0, spread * spread - expected)) / c
    return Correction(
        factor=c, factor_err=c_err, n_refs=int(kept.size), n_rejected=int(ratio.size - kept.size),
        scatter=scatter,
    )  # fmt: skip


def apply_correction(
    raw_jyb: ArrayLike, raw_err_jyb: ArrayLike, correction: Correction
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Normalised fluxes and errors (Jy/beam); the error of ``c`` added in quadrature."""
    raw = np.asarray(raw_jyb, dtype=np.float64)
    err = np.asarray(raw_err_jyb, dtype=np.float64)
    c, dc = correction.factor, correction.factor_err
    norm = raw / c
    norm_err = np.sqrt(
        (err / c) ** 2 + (raw * dc / c**2) ** 2 + (raw * correction.scatter / c) ** 2
    )
    return norm, norm_err
