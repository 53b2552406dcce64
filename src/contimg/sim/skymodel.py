"""The synthetic sky's data model: sources, their components, the calibrators, names.

A :class:`Sky` is a list of :class:`SkySource` (true flux density at 1.4 GHz, spectral
index, components with sizes, light curve) around a field centre. It is drawn by
:func:`contimg.sim.sky.make_sky` and written (with survey-like catalogs made from it)
by :func:`contimg.sim.catalogs.write_catalogs`.

Flux densities are in mJy, angles in degrees (sizes in arcsec), spectral index
``alpha`` with ``S ~ nu**alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from contimg.sim import variability as var

REF_FREQ_HZ = 1.4e9

# Standard flux calibrators: J2000 position, approximate 1.4 GHz flux density (Jy)
# and spectral index near 1.4 GHz (Perley & Butler 2017 scale, rounded).
CALIBRATORS: dict[str, tuple[float, float, float, float]] = {
    "3C48": (24.4220833, 33.1597500, 16.0, -0.75),
    "3C138": (80.2912083, 16.6394722, 8.4, -0.55),
    "3C147": (85.6505833, 49.8520000, 22.0, -0.70),
    "3C196": (123.4002500, 48.2173889, 14.0, -0.85),
    "3C286": (202.7845417, 30.5091667, 15.0, -0.45),
    "3C295": (212.8355000, 52.2027500, 22.0, -0.65),
}


@dataclass
class Component:
    """One emitting component of a source (point if ``maj_arcsec`` is 0)."""

    ra_deg: float
    dec_deg: float
    frac: float
    """Fraction of the source's flux density."""
    maj_arcsec: float = 0.0
    min_arcsec: float = 0.0
    pa_deg: float = 0.0
    """Position angle of the major axis, east of north."""


@dataclass
class SkySource:
    """A true source: one NVSS entry, one or more components."""

    source_id: str
    ra_deg: float
    dec_deg: float
    flux_1400_mjy: float
    alpha: float
    components: list[Component]
    variability: dict[str, Any] = field(default_factory=lambda: dict(var.CONSTANT))
    calibrator: str | None = None

    def flux_mjy(self, freq_hz: float | NDArray[np.float64], mjd: float) -> Any:
        """True flux density (mJy) at ``freq_hz`` and time ``mjd``."""
        f = float(var.flux_factor(self.variability, mjd))
        return self.flux_1400_mjy * f * (np.asarray(freq_hz) / REF_FREQ_HZ) ** self.alpha

    @property
    def maj_arcsec(self) -> float:
        return max(c.maj_arcsec for c in self.components)


@dataclass
class Sky:
    """A simulated sky and how it was made."""

    centre_ra_deg: float
    centre_dec_deg: float
    radius_deg: float
    seed: int
    epoch_mjd: float
    span_days: float
    sources: list[SkySource]

    def by_id(self) -> dict[str, SkySource]:
        return {s.source_id: s for s in self.sources}


# ---------------------------------------------------------------------------- names


def _sexagesimal(value: float, *, unit_per_deg: float, sec_decimals: int) -> tuple[int, int, float]:
    total = abs(value) * unit_per_deg * 3600.0
    scale = 10**sec_decimals
    total = np.floor(total * scale + 1e-6) / scale  # truncate, as IAU names do
    d = int(total // 3600)
    m = int((total - d * 3600) // 60)
    s = total - d * 3600 - m * 60
    return d, m, s


def iau_name(ra_deg: float, dec_deg: float, *, ra_dec: int = 1, dec_dec: int = 0) -> str:
    """``HHMMSS.s+DDMMSS`` (truncated) for a position; decimals configurable."""
    h, m, s = _sexagesimal(ra_deg % 360.0, unit_per_deg=1 / 15, sec_decimals=ra_dec)
    d, dm, ds = _sexagesimal(dec_deg, unit_per_deg=1.0, sec_decimals=dec_dec)
    sign = "-" if dec_deg < 0 else "+"
    ra_w = 3 + ra_dec if ra_dec else 2
    dec_w = 3 + dec_dec if dec_dec else 2
    return f"{h:02d}{m:02d}{s:0{ra_w}.{ra_dec}f}{sign}{d:02d}{dm:02d}{ds:0{dec_w}.{dec_dec}f}"


# ----------------------------------------------------------------------- geometry


def offset(ra_deg: float, dec_deg: float, sep_deg: Any, pa_deg: Any) -> tuple[Any, Any]:
    """Positions at separation ``sep_deg`` and position angle ``pa_deg`` (E of N)."""
    ra0, dec0 = np.radians(ra_deg), np.radians(dec_deg)
    r, pa = np.radians(sep_deg), np.radians(pa_deg)
    dec = np.arcsin(np.sin(dec0) * np.cos(r) + np.cos(dec0) * np.sin(r) * np.cos(pa))
    ra = ra0 + np.arctan2(
        np.sin(pa) * np.sin(r) * np.cos(dec0), np.cos(r) - np.sin(dec0) * np.sin(dec)
    )
    return np.degrees(ra) % 360.0, np.degrees(dec)


def sep_deg(ra1: Any, dec1: Any, ra2: Any, dec2: Any) -> Any:
    """Angular separation (deg) of positions (deg)."""
    from contimg.science.beams import angular_separation_rad

    return np.degrees(
        angular_separation_rad(np.radians(ra1), np.radians(dec1), np.radians(ra2), np.radians(dec2))
    )
