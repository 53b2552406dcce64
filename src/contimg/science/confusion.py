"""Sources whose flux a much brighter neighbour contaminates (flag ``CONFUSED``).

Within a few beams of a bright source an image carries its sidelobes and CLEAN
residuals. They change with each epoch's calibration errors (a 1 % error on a
1.5 Jy source is 15 mJy), so a faint neighbour's light curve scatters far beyond
its noise. The science benchmark measured it (docs/photometry.md): 150 mJy sources
60-105" from 1.5 Jy sources had light-curve pulls of 2.2-2.7 against ~1 elsewhere.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree


def confused_by_brighter(
    ra_deg: ArrayLike,
    dec_deg: ArrayLike,
    flux: ArrayLike,
    *,
    radius_deg: float,
    ratio: float,
    err: ArrayLike | None = None,
    sidelobe_level: float = 0.0,
    sidelobe_radius_deg: float = 0.0,
    peak: ArrayLike | None = None,
) -> NDArray[np.bool_]:
    """True for each source that a brighter neighbour confuses: one at least ``ratio``
    times brighter within ``radius_deg``, or (with ``err``) one as much brighter whose
    flux times ``sidelobe_level`` (the fraction of a source's flux its varying
    sidelobes reach) is at least the source's own error, within ``sidelobe_radius_deg``. ``ratio``
    <= 0 and ``sidelobe_level`` <= 0 turn the two tests off.

    A neighbour's sidelobes scale with its total flux, but what they corrupt is the
    source's peak: with ``peak`` (the sources' expected peaks, Jy/beam in the unit of
    ``flux``) a source is compared by its peak, a neighbour by its flux. A resolved
    source, whose peak is a fraction of its flux, is so confused by a neighbour that
    would not disturb a point source of the same flux.

    Parameters
    ----------
    ra_deg, dec_deg, flux : array_like
        Positions and apparent fluxes (NaN counts as 0), shape ``(n,)``.
    err : array_like, optional
        The sources' flux errors, in the unit of ``flux``, shape ``(n,)``.
    peak : array_like, optional
        The sources' expected peaks (default ``flux``), shape ``(n,)``.
    """
    ra = np.radians(np.asarray(ra_deg, dtype=np.float64))
    dec = np.radians(np.asarray(dec_deg, dtype=np.float64))
    f = np.nan_to_num(np.asarray(flux, dtype=np.float64), nan=0.0)
    p = f if peak is None else np.nan_to_num(np.asarray(peak, dtype=np.float64), nan=0.0)
    e = None if err is None else np.nan_to_num(np.asarray(err, dtype=np.float64), nan=np.inf)
    out = np.zeros(ra.shape, dtype=bool)
    near = radius_deg if ratio > 0 else 0.0
    far = sidelobe_radius_deg if (e is not None and sidelobe_level > 0) else 0.0
    if max(near, far) <= 0 or ra.size < 2:
        return out
    # Only sources bright enough to confuse the faintest one are centres of a search.
    floor = max(float(np.min(p)), 0.0)
    loud = np.zeros(ra.shape, dtype=bool)
    if near > 0:
        loud |= f >= ratio * floor
    if far > 0 and e is not None:
        loud |= (f * sidelobe_level >= float(np.min(e))) & (f >= max(ratio, 1.0) * floor)
    loud &= f > 0
    centres = np.flatnonzero(loud)
    if centres.size == 0:
        return out
    xyz = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=1)
    reach = 2.0 * np.sin(np.radians(max(near, far)) / 2.0)
    pairs = cKDTree(xyz[centres]).sparse_distance_matrix(
        cKDTree(xyz), reach, output_type="coo_matrix"
    )
    j = centres[pairs.row]
    i = pairs.col
    keep = i != j
    j, i = j[keep], i[keep]
    d = np.degrees(2.0 * np.arcsin(np.clip(pairs.data[keep] / 2.0, 0.0, 1.0)))
    hit = np.zeros(i.shape, dtype=bool)
    if near > 0:
        hit |= (d <= near) & (f[j] >= ratio * np.maximum(p[i], 0.0))
    if far > 0 and e is not None:
        hit |= (d <= far) & (f[j] * sidelobe_level >= e[i]) & (f[j] >= max(ratio, 1.0) * p[i])
    out[i[hit]] = True
    return out


CI_SIDELOBE_LEVEL = 0.005
"""Varying sidelobes of a bright source, as a fraction of its flux, in 5-minute images
of the 24-antenna ci array (276 baselines): measured by the science benchmark (faint
sources 4-7' from 1.5 Jy sources scattered by ~1 % of it, in sigma 3-5 outliers)."""
CI_BASELINES = 276


def default_sidelobe_level(n_antennas: int) -> float:
    """:data:`CI_SIDELOBE_LEVEL` scaled to an array of ``n_antennas`` as 1/sqrt(baselines)
    (the rms of a PSF's far sidelobes). Measured for ci only; a scaling for the others."""
    n_bl = max(1, n_antennas * (n_antennas - 1) // 2)
    return float(CI_SIDELOBE_LEVEL * np.sqrt(CI_BASELINES / n_bl))
