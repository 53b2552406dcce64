"""The DSA-110 primary beam: an Airy pattern of a uniformly illuminated dish.

Power response ``A(theta) = (2 J1(x) / x)**2`` with
``x = pi * D * sin(theta) / lambda`` (``A(0) = 1``). For D = 4.65 m the FWHM is
about 2.7 deg at 1.4 GHz.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import j1

C_M_S = 299_792_458.0


def airy_power(
    theta_rad: ArrayLike, freq_hz: ArrayLike, *, dish_diameter_m: float
) -> NDArray[np.float64]:
    """Airy power response at angle ``theta_rad`` from the pointing centre.

    Parameters
    ----------
    theta_rad : array_like
        Angular distance from the beam centre, radians. Broadcast against ``freq_hz``.
    freq_hz : array_like
        Frequency, Hz.
    dish_diameter_m : float
        Dish diameter, metres (DSA-110: ``DSA110.dish_diameter_m``).

    Returns
    -------
    numpy.ndarray
        Power response in [0, 1], shape of the broadcast inputs.
    """
    theta = np.asarray(theta_rad, dtype=np.float64)
    freq = np.asarray(freq_hz, dtype=np.float64)
    x = np.pi * dish_diameter_m * np.sin(theta) * freq / C_M_S
    out = np.ones(np.broadcast(x, x).shape, dtype=np.float64)
    nz = np.abs(x) > 1e-12
    xn = x[nz]
    out[nz] = (2.0 * j1(xn) / xn) ** 2
    return out


def angular_separation_rad(
    ra1_rad: ArrayLike, dec1_rad: ArrayLike, ra2_rad: ArrayLike, dec2_rad: ArrayLike
) -> NDArray[np.float64]:
    """Great-circle distance (Vincenty formula, stable at all separations), radians."""
    ra1, dec1, ra2, dec2 = (
        np.asarray(a, dtype=np.float64) for a in (ra1_rad, dec1_rad, ra2_rad, dec2_rad)
    )
    dra = ra2 - ra1
    sdr, cdr = np.sin(dra), np.cos(dra)
    s1, c1, s2, c2 = np.sin(dec1), np.cos(dec1), np.sin(dec2), np.cos(dec2)
    num = np.hypot(c2 * sdr, c1 * s2 - s1 * c2 * cdr)
    den = s1 * s2 + c1 * c2 * cdr
    return np.asarray(np.arctan2(num, den), dtype=np.float64)


def primary_beam_at(
    ra_deg: ArrayLike,
    dec_deg: ArrayLike,
    *,
    pointing_ra_deg: float,
    pointing_dec_deg: float,
    freq_hz: float,
    dish_diameter_m: float,
) -> NDArray[np.float64]:
    """Airy power response at sky positions for a beam centred on the pointing."""
    theta = angular_separation_rad(
        np.radians(ra_deg),
        np.radians(dec_deg),
        np.radians(pointing_ra_deg),
        np.radians(pointing_dec_deg),
    )
    return airy_power(theta, freq_hz, dish_diameter_m=dish_diameter_m)
