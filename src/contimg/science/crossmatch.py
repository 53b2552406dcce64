"""Positional crossmatch of radio catalogues and the derived catalogue columns.

Pure numpy/scipy: nothing here reads files or databases. The rules are those of
``science.md`` section 5 (master sources):

* a partner (FIRST or VLASS) source matches an NVSS source when it lies within
  the match radius (7.5 arcsec by default); when several do, the nearest wins;
* ``confusion_flag`` is set when more than one FIRST source, or more than one
  VLASS source, lies within the radius of an NVSS source;
* ``alpha = ln(S_VLASS / S_NVSS) / ln(3.0 / 1.4)`` (frequencies in GHz);
* ``resolved_flag`` is set when the FIRST deconvolved major axis exceeds 6 arcsec.

Matching is done from the NVSS side: every NVSS source looks for its nearest
partner. A partner may therefore be the nearest of two NVSS sources (both get
it); this is rare at NVSS density (one source per ~70 arcmin^2) and keeps each
NVSS row's answer independent of its neighbours.

Positions are compared as 3-D unit vectors in a k-d tree
(:class:`scipy.spatial.cKDTree`), so the search is O(N log M), has no
RA = 0/360 seam and no trouble at the poles. The chord length ``c`` of an
angle ``theta`` is ``2 sin(theta / 2)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

NVSS_FREQ_GHZ = 1.4
"""Centre frequency of NVSS (GHz)."""
VLASS_FREQ_GHZ = 3.0
"""Centre frequency of VLASS (GHz)."""
DEFAULT_MATCH_RADIUS_ARCSEC = 7.5
"""Default NVSS-to-partner match radius (arcsec), science.md section 5."""
RESOLVED_MAJOR_ARCSEC = 6.0
"""A FIRST deconvolved major axis above this (arcsec) marks a source resolved."""

ARCSEC_PER_RAD = 180.0 / np.pi * 3600.0


def unit_vectors(ra_deg: npt.ArrayLike, dec_deg: npt.ArrayLike) -> FloatArray:
    """Cartesian unit vectors of sky positions.

    Parameters
    ----------
    ra_deg, dec_deg : array_like, shape (n,)
        Right ascension and declination (deg).

    Returns
    -------
    ndarray, shape (n, 3)
        ``(cos d cos a, cos d sin a, sin d)``.
    """
    ra = np.deg2rad(np.asarray(ra_deg, dtype=np.float64))
    dec = np.deg2rad(np.asarray(dec_deg, dtype=np.float64))
    cos_dec = np.cos(dec)
    return np.stack([cos_dec * np.cos(ra), cos_dec * np.sin(ra), np.sin(dec)], axis=-1)


def chord_for_angle(angle_rad: npt.ArrayLike) -> FloatArray:
    """Chord length between two unit vectors separated by ``angle_rad`` (rad)."""
    return np.asarray(2.0 * np.sin(0.5 * np.asarray(angle_rad, dtype=np.float64)))


def angle_for_chord(chord: npt.ArrayLike) -> FloatArray:
    """Angle (rad) between two unit vectors whose chord length is ``chord``."""
    c = np.clip(np.asarray(chord, dtype=np.float64), 0.0, 2.0)
    return np.asarray(2.0 * np.arcsin(0.5 * c))


def angular_separation_deg(
    ra1_deg: npt.ArrayLike,
    dec1_deg: npt.ArrayLike,
    ra2_deg: npt.ArrayLike,
    dec2_deg: npt.ArrayLike,
) -> FloatArray:
    """Great-circle separation (deg), accurate at all angles (Vincenty form).

    Inputs broadcast against each other; all in degrees.
    """
    ra1, dec1, ra2, dec2 = (
        np.deg2rad(np.asarray(x, dtype=np.float64)) for x in (ra1_deg, dec1_deg, ra2_deg, dec2_deg)
    )
    dra = ra2 - ra1
    sin_d1, cos_d1 = np.sin(dec1), np.cos(dec1)
    sin_d2, cos_d2 = np.sin(dec2), np.cos(dec2)
    num1 = cos_d2 * np.sin(dra)
    num2 = cos_d1 * sin_d2 - sin_d1 * cos_d2 * np.cos(dra)
    den = sin_d1 * sin_d2 + cos_d1 * cos_d2 * np.cos(dra)
    return np.asarray(np.rad2deg(np.arctan2(np.hypot(num1, num2), den)))


@dataclass(frozen=True)
class MatchResult:
    """Nearest-partner match of every reference (NVSS) source.

    Attributes
    ----------
    index : ndarray of int64, shape (n_ref,)
        Row of the nearest partner within the radius, or -1 when there is none.
    sep_arcsec : ndarray of float64, shape (n_ref,)
        Separation to that partner (arcsec); NaN when there is none.
    n_within : ndarray of int64, shape (n_ref,)
        How many partners lie within the radius, counted up to 2 (0, 1, or
        2 meaning "two or more").
    """

    index: IntArray
    sep_arcsec: FloatArray
    n_within: IntArray

    @property
    def matched(self) -> BoolArray:
        """True where a partner was found, shape (n_ref,)."""
        return np.asarray(self.index >= 0)


def match_nearest(
    ref_ra_deg: npt.ArrayLike,
    ref_dec_deg: npt.ArrayLike,
    cat_ra_deg: npt.ArrayLike,
    cat_dec_deg: npt.ArrayLike,
    *,
    radius_arcsec: float = DEFAULT_MATCH_RADIUS_ARCSEC,
) -> MatchResult:
    """For every reference position, the nearest catalogue position within a radius.

    Parameters
    ----------
    ref_ra_deg, ref_dec_deg : array_like, shape (n_ref,)
        Reference (NVSS) positions (deg).
    cat_ra_deg, cat_dec_deg : array_like, shape (n_cat,)
        Partner catalogue (FIRST or VLASS) positions (deg).
    radius_arcsec : float
        Match radius (arcsec); a partner exactly at the radius matches.

    Returns
    -------
    MatchResult
        Nearest partner, its separation, and the number of partners within the radius.
    """
    if not radius_arcsec > 0:
        raise ValueError(f"match radius must be positive, got {radius_arcsec!r} arcsec")
    ref = unit_vectors(ref_ra_deg, ref_dec_deg).reshape(-1, 3)
    cat = unit_vectors(cat_ra_deg, cat_dec_deg).reshape(-1, 3)
    n_ref = ref.shape[0]
    index = np.full(n_ref, -1, dtype=np.int64)
    sep = np.full(n_ref, np.nan)
    n_within = np.zeros(n_ref, dtype=np.int64)
    if n_ref == 0 or cat.shape[0] == 0:
        return MatchResult(index, sep, n_within)
    # A hair of slack so a partner exactly at the radius is not lost to rounding;
    # the exact comparison on the angle follows.
    chord = float(chord_for_angle(radius_arcsec / ARCSEC_PER_RAD)) * (1.0 + 1e-9)
    limit = radius_arcsec * (1.0 + 1e-12)
    tree = cKDTree(cat, balanced_tree=False, compact_nodes=False)
    # The two nearest partners: the first is the match, the second tells whether
    # more than one lies within the radius (all that the confusion flag needs).
    k = min(2, cat.shape[0])
    dist, idx = tree.query(ref, k=k, distance_upper_bound=chord, workers=-1)
    dist = dist.reshape(n_ref, k)
    idx = idx.reshape(n_ref, k)
    sep_all = np.where(
        np.isfinite(dist), angle_for_chord(np.where(np.isfinite(dist), dist, 0.0)), np.inf
    )
    sep_all = sep_all * ARCSEC_PER_RAD
    within = sep_all <= limit
    hit = within[:, 0]
    index[hit] = idx[hit, 0]
    sep[hit] = sep_all[hit, 0]
    n_within = within.sum(axis=1).astype(np.int64)
    return MatchResult(index, sep, n_within)


def spectral_index(
    s_high: npt.ArrayLike,
    s_low: npt.ArrayLike,
    *,
    freq_high_ghz: float = VLASS_FREQ_GHZ,
    freq_low_ghz: float = NVSS_FREQ_GHZ,
) -> FloatArray:
    """Two-point spectral index ``ln(S_high / S_low) / ln(nu_high / nu_low)`` (S ~ nu^alpha).

    Fluxes in any one unit (both the same). NaN where either flux is missing,
    zero or negative.
    """
    hi = np.asarray(s_high, dtype=np.float64)
    lo = np.asarray(s_low, dtype=np.float64)
    ok = np.isfinite(hi) & np.isfinite(lo) & (hi > 0) & (lo > 0)
    out = np.full(np.broadcast(hi, lo).shape, np.nan)
    ratio = np.divide(hi, lo, out=np.ones_like(out), where=ok)
    out[ok] = np.log(ratio[ok]) / np.log(freq_high_ghz / freq_low_ghz)
    return out


def resolved_flags(
    first_maj_arcsec: npt.ArrayLike, *, threshold_arcsec: float = RESOLVED_MAJOR_ARCSEC
) -> BoolArray:
    """True where the FIRST deconvolved major axis (arcsec) exceeds the threshold.

    A missing size (NaN, no FIRST partner) is not resolved.
    """
    maj = np.asarray(first_maj_arcsec, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.asarray(np.nan_to_num(maj, nan=-np.inf) > threshold_arcsec)


def confusion_flags(n_first_within: npt.ArrayLike, n_vlass_within: npt.ArrayLike) -> BoolArray:
    """True where more than one FIRST or more than one VLASS source lies within the radius."""
    return np.asarray((np.asarray(n_first_within) > 1) | (np.asarray(n_vlass_within) > 1))


def snr(flux: npt.ArrayLike, flux_err: npt.ArrayLike) -> FloatArray:
    """``flux / flux_err``; NaN where the error is missing, zero or negative."""
    f = np.asarray(flux, dtype=np.float64)
    e = np.asarray(flux_err, dtype=np.float64)
    ok = np.isfinite(f) & np.isfinite(e) & (e > 0)
    out = np.full(np.broadcast(f, e).shape, np.nan)
    np.divide(f, e, out=out, where=ok)
    return out
