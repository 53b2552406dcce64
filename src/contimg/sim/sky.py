"""A synthetic radio sky and the NVSS-, FIRST- and VLASS-like catalogs made from it.

The sky is a list of :class:`SkySource` (true flux density at 1.4 GHz, spectral
index, components with sizes, light curve). :func:`make_sky` draws one around a field
centre with NVSS-like density and counts; :func:`write_catalogs` writes

- ``nvss.fits``: VizieR VIII/65 (NVSS, Condon et al. 1998) columns,
- ``first.fits``: VizieR VIII/92 (FIRST, 14dec17 release) columns,
- ``vlass.fits``: CIRADA VLASS Epoch 1 Quick Look component catalogue columns
  (Gordon et al. 2021),
- ``sky_truth.json``: the truth (see :func:`sky_to_dict`).

Flux densities are in mJy, angles in degrees (sizes in arcsec), spectral index
``alpha`` with ``S ~ nu**alpha``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from contimg.errors import ContimgError
from contimg.sim import variability as var

NVSS_DENSITY_PER_DEG2 = 53.0
"""NVSS sources per square degree above 2.5 mJy (1.8 million over 33,800 deg^2)."""

NVSS_BEAM_ARCSEC = 45.0
FIRST_BEAM_ARCSEC = 5.4
VLASS_BEAM_ARCSEC = 2.5
VLASS_FREQ_HZ = 3.0e9
REF_FREQ_HZ = 1.4e9

TRUTH_FILE = "sky_truth.json"
CATALOG_FILES = {"nvss": "nvss.fits", "first": "first.fits", "vlass": "vlass.fits"}

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


# ---------------------------------------------------------------------------- drawing


def field_area_deg2(radius_deg: float) -> float:
    """Area (deg^2) of a cone of ``radius_deg``."""
    return float(2 * np.pi * (1 - np.cos(np.radians(radius_deg))) * (180 / np.pi) ** 2)


def _offset(ra_deg: float, dec_deg: float, sep_deg: Any, pa_deg: Any) -> tuple[Any, Any]:
    """Positions at separation ``sep_deg`` and position angle ``pa_deg`` (E of N)."""
    ra0, dec0 = np.radians(ra_deg), np.radians(dec_deg)
    r, pa = np.radians(sep_deg), np.radians(pa_deg)
    dec = np.arcsin(np.sin(dec0) * np.cos(r) + np.cos(dec0) * np.sin(r) * np.cos(pa))
    ra = ra0 + np.arctan2(
        np.sin(pa) * np.sin(r) * np.cos(dec0), np.cos(r) - np.sin(dec0) * np.sin(dec)
    )
    return np.degrees(ra) % 360.0, np.degrees(dec)


def _unit(ra_deg: Any, dec_deg: Any) -> NDArray[np.float64]:
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


def draw_fluxes_mjy(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    """1.4 GHz flux densities (mJy) from NVSS-like counts above 2.5 mJy.

    Integral counts N(>S) ~ S^-0.9 between 2.5 and 100 mJy and ~ S^-1.5 above,
    capped at 5 Jy.
    """
    u = rng.uniform(0.0, 1.0, n)
    f100 = (100.0 / 2.5) ** -0.9
    s = np.where(u >= f100, 2.5 * u ** (-1 / 0.9), 100.0 * (u / f100) ** (-1 / 1.5))
    return np.asarray(np.minimum(s, 5000.0), dtype=np.float64)


def _transits(ra_deg: float, epoch_mjd: float, span_days: float) -> list[float]:
    from contimg.sim.astro import SIDEREAL_DAY_S, next_transit_mjd

    t = next_transit_mjd(ra_deg, epoch_mjd)
    out: list[float] = []
    while t <= epoch_mjd + span_days or not out:
        out.append(t)
        t += SIDEREAL_DAY_S / 86_400.0
    return out


def make_sky(
    *,
    ra_deg: float,
    dec_deg: float,
    radius_deg: float,
    seed: int = 0,
    epoch_mjd: float,
    span_days: float = 1.0,
    density_per_deg2: float = NVSS_DENSITY_PER_DEG2,
    min_flux_mjy: float = 2.5,
    max_flux_mjy: float = 5000.0,
) -> Sky:
    """Draw a sky around (``ra_deg``, ``dec_deg``) out to ``radius_deg``.

    Parameters
    ----------
    ra_deg, dec_deg, radius_deg : float
        Field centre (J2000) and radius, degrees.
    seed : int
        Random seed; the same arguments give the same sky.
    epoch_mjd, span_days : float
        Time window (UTC MJD start, length in days) in which the variable sources'
        events are placed, at times when the source transits the meridian.
    density_per_deg2 : float
        Sources per square degree above 2.5 mJy (NVSS: about 53).
    min_flux_mjy : float
        Faintest true 1.4 GHz flux density drawn (>= 2.5 mJy keeps NVSS counts).
    max_flux_mjy : float
        Brightest (the counts are capped there; calibrators are not affected).
    """
    if not -90.0 <= dec_deg <= 90.0:
        raise ContimgError(f"field declination {dec_deg} deg is outside -90..90")
    if not 0.0 < radius_deg <= 30.0:
        raise ContimgError(f"field radius {radius_deg} deg must be in (0, 30]")
    rng = np.random.default_rng(seed)
    area = field_area_deg2(radius_deg)
    fmin_scale = (max(min_flux_mjy, 2.5) / 2.5) ** -0.9
    n = int(rng.poisson(density_per_deg2 * area * fmin_scale))

    # Uniform on the cap, then keep sources at least 60" apart (NVSS-like separation).
    cos_r = np.cos(np.radians(radius_deg))
    sep = np.degrees(np.arccos(rng.uniform(cos_r, 1.0, n)))
    pa = rng.uniform(0.0, 360.0, n)
    ras, decs = _offset(ra_deg, dec_deg, sep, pa)
    fluxes = draw_fluxes_mjy(rng, n)
    if min_flux_mjy > 2.5:  # same power law, starting higher
        fluxes = min_flux_mjy * fluxes / 2.5
    fluxes = np.minimum(fluxes, max_flux_mjy)
    cal_pos = [
        (name, c)
        for name, c in CALIBRATORS.items()
        if _sep_deg(ra_deg, dec_deg, c[0], c[1]) <= radius_deg
    ]
    keep = _thin(np.asarray(ras), np.asarray(decs), min_sep_arcsec=60.0)
    for _name, c in cal_pos:  # clear 3' around calibrators
        keep &= _sep_deg(np.asarray(ras), np.asarray(decs), c[0], c[1]) > 3.0 / 60.0

    sources: list[SkySource] = []
    for i in np.flatnonzero(keep):
        sources.append(_draw_source(rng, float(ras[i]), float(decs[i]), float(fluxes[i])))
    for name, (cra, cdec, cflux, calpha) in cal_pos:
        sources.append(
            SkySource(
                source_id="",
                ra_deg=cra,
                dec_deg=cdec,
                flux_1400_mjy=cflux * 1000.0,
                alpha=calpha,
                components=[Component(cra, cdec, 1.0)],
                calibrator=name,
            )
        )
    _assign_variability(rng, sources, epoch_mjd=epoch_mjd, span_days=span_days)
    sky = Sky(
        centre_ra_deg=float(ra_deg) % 360.0,
        centre_dec_deg=float(dec_deg),
        radius_deg=float(radius_deg),
        seed=int(seed),
        epoch_mjd=float(epoch_mjd),
        span_days=float(span_days),
        sources=sources,
    )
    return sky


def inject_source(
    sky: Sky,
    *,
    ra_deg: float,
    dec_deg: float,
    flux_1400_mjy: float,
    alpha: float = -0.7,
    variability: dict[str, Any] | None = None,
    clear_arcsec: float = 180.0,
) -> SkySource:
    """Add a compact (point) source with a chosen light curve to ``sky``; return it.

    Sky sources within ``clear_arcsec`` of it are removed, so that it is isolated
    (as the calibrators are). Its ``source_id`` is filled by :func:`write_catalogs`,
    like every other source's.
    """
    if flux_1400_mjy <= 0:
        raise ContimgError(f"injected source flux must be positive (got {flux_1400_mjy} mJy)")
    near = [
        s
        for s in sky.sources
        if s.calibrator is None
        and float(_sep_deg(s.ra_deg, s.dec_deg, ra_deg, dec_deg)) * 3600.0 <= clear_arcsec
    ]
    sky.sources = [s for s in sky.sources if s not in near]
    src = SkySource(
        source_id="",
        ra_deg=float(ra_deg) % 360.0,
        dec_deg=float(dec_deg),
        flux_1400_mjy=float(flux_1400_mjy),
        alpha=float(alpha),
        components=[Component(float(ra_deg) % 360.0, float(dec_deg), 1.0)],
        variability=dict(variability) if variability is not None else dict(var.CONSTANT),
    )
    sky.sources.append(src)
    return src


def _sep_deg(ra1: Any, dec1: Any, ra2: Any, dec2: Any) -> Any:
    from contimg.science.beams import angular_separation_rad

    return np.degrees(
        angular_separation_rad(np.radians(ra1), np.radians(dec1), np.radians(ra2), np.radians(dec2))
    )


def _thin(ras: NDArray[np.float64], decs: NDArray[np.float64], *, min_sep_arcsec: float) -> Any:
    from scipy.spatial import cKDTree

    xyz = _unit(ras, decs)
    pairs = cKDTree(xyz).query_pairs(np.radians(min_sep_arcsec / 3600.0), output_type="ndarray")
    keep = np.ones(len(ras), dtype=bool)
    for _a, b in pairs:
        keep[b] = False
    return keep


def _draw_source(rng: np.random.Generator, ra: float, dec: float, flux: float) -> SkySource:
    kind = rng.uniform()
    flat = rng.uniform() < 0.12
    alpha = float(rng.normal(-0.1, 0.2) if flat else rng.normal(-0.75, 0.2))
    if kind < 0.06:
        # Close pair: two compact components 2.5-7" apart (FIRST/VLASS confusion).
        d_arcsec = rng.uniform(2.5, 7.0)
        frac1 = rng.uniform(0.5, 0.8)
        pa = rng.uniform(0, 360)
        # Flux-weighted centroid at (ra, dec).
        r1, d1 = _offset(ra, dec, d_arcsec * (1 - frac1) / 3600.0, pa)
        r2, d2 = _offset(ra, dec, d_arcsec * frac1 / 3600.0, pa + 180.0)
        comps = [
            Component(float(r1), float(d1), frac1, *_compact(rng)),
            Component(float(r2), float(d2), 1 - frac1, *_compact(rng)),
        ]
    elif kind < 0.30 and not flat:
        maj = float(rng.uniform(6.5, 40.0))
        comps = [
            Component(
                ra, dec, 1.0, maj, maj * float(rng.uniform(0.3, 0.9)), float(rng.uniform(0, 180))
            )
        ]
    else:
        comps = [Component(ra, dec, 1.0, *_compact(rng))]
    return SkySource("", ra, dec, flux, alpha, comps)


def _compact(rng: np.random.Generator) -> tuple[float, float, float]:
    """Size of a compact component: mostly unresolved, sometimes 1-3"."""
    if rng.uniform() < 0.7:
        return 0.0, 0.0, 0.0
    maj = float(rng.uniform(1.0, 3.0))
    return maj, maj * float(rng.uniform(0.4, 1.0)), float(rng.uniform(0, 180))


def _assign_variability(
    rng: np.random.Generator, sources: list[SkySource], *, epoch_mjd: float, span_days: float
) -> None:
    """Give a few compact, bright, non-calibrator sources ESE or rapid light curves."""
    group_s = 309.237648
    eligible = [
        s
        for s in sources
        if s.calibrator is None
        and s.flux_1400_mjy >= 20.0
        and len(s.components) == 1
        and s.components[0].maj_arcsec < 3.0
    ]
    if not eligible:
        return
    order = rng.permutation(len(eligible))
    n_ese = min(len(eligible), max(3, round(0.03 * len(eligible))))
    n_rapid = min(len(eligible) - n_ese, max(2, round(0.015 * len(eligible))))
    for k, j in enumerate(order[: n_ese + n_rapid]):
        src = eligible[j]
        transit = float(rng.choice(_transits(src.ra_deg, epoch_mjd, span_days)))
        if k < n_ese:
            if span_days >= 2.0:
                dur_s = float(rng.uniform(0.2, 0.5)) * span_days * 86_400.0
                centre = epoch_mjd + span_days * float(rng.uniform(0.3, 0.7))
            else:
                # Short runs: a dip of 6-16 groups whose edge passes during the transit.
                dur_s = float(rng.uniform(6, 16)) * group_s
                side = float(rng.choice([-1.0, 1.0]))
                centre = transit + side * 0.5 * dur_s * float(rng.uniform(0.5, 1.0)) / 86_400.0
            src.variability = var.make_ese(rng, t_center_mjd=centre, duration_s=dur_s)
        else:
            centre = transit + float(rng.uniform(-1.0, 1.0)) * group_s / 86_400.0
            src.variability = var.make_rapid(
                rng, t_center_mjd=centre, width_s=group_s * float(rng.uniform(0.5, 1.0))
            )


# ---------------------------------------------------------------------------- catalogs


@dataclass
class _Measured:
    nvss: list[dict[str, Any]]
    first: list[dict[str, Any]]
    vlass: list[dict[str, Any]]


def _measure(sky: Sky, rng: np.random.Generator) -> _Measured:
    """Catalog entries as each survey would have measured the true sky.

    Also fills every source's ``source_id`` ("NVSS J" + NVSS name).
    """
    nvss: list[dict[str, Any]] = []
    first: list[dict[str, Any]] = []
    vlass: list[dict[str, Any]] = []
    names: set[str] = set()
    for src in sky.sources:
        s = src.flux_1400_mjy
        # NVSS: 0.45 mJy/beam rms, 3 % scale scatter; position error ~ beam / (2 SNR).
        e_s = float(np.hypot(0.45, 0.03 * s))
        s_meas = max(float(s + rng.normal(0.0, e_s)), 0.5)
        pos_err = max(0.3, 0.5 * NVSS_BEAM_ARCSEC * 0.45 / s)
        while True:
            mra, mdec = _offset(
                src.ra_deg, src.dec_deg, abs(rng.normal(0.0, pos_err)) / 3600.0, rng.uniform(0, 360)
            )
            name = iau_name(float(mra), float(mdec))
            if name not in names:
                break
        names.add(name)
        src.source_id = f"NVSS J{name}"
        # NVSS deconvolved size: resolved if the true extent is > ~1/3 of the beam.
        extent = _extent_arcsec(src)
        if extent[0] > 15.0:
            maj, mn, pa = (
                extent[0] * rng.normal(1, 0.05),
                extent[1] * rng.normal(1, 0.05),
                extent[2],
            )
        else:
            maj, mn, pa = np.nan, np.nan, np.nan
        nvss.append(
            {
                "NVSS": name,
                "RAJ2000": float(mra),
                "DEJ2000": float(mdec),
                "S1.4": round(s_meas, 1),
                "e_S1.4": round(e_s, 1),
                "MajAxis": maj,
                "MinAxis": mn,
                "PA": pa,
            }
        )
        for comp in src.components:
            _first_entry(rng, src, comp, first)
            _vlass_entry(rng, src, comp, vlass)
    return _Measured(nvss, first, vlass)


def _extent_arcsec(src: SkySource) -> tuple[float, float, float]:
    if len(src.components) == 1:
        c = src.components[0]
        return c.maj_arcsec, c.min_arcsec, c.pa_deg
    a, b = src.components[0], src.components[1]
    d = float(_sep_deg(a.ra_deg, a.dec_deg, b.ra_deg, b.dec_deg)) * 3600.0
    return d, 0.0, 0.0


def _fitted(maj: float, mn: float, beam: float) -> tuple[float, float]:
    return float(np.hypot(maj, beam)), float(np.hypot(mn, beam))


def _first_entry(
    rng: np.random.Generator, src: SkySource, comp: Component, out: list[dict[str, Any]]
) -> None:
    if src.dec_deg <= -10.0:
        return  # FIRST covers Dec > -10 only
    rms = 0.15
    fint_true = src.flux_1400_mjy * comp.frac
    fmaj, fmin = _fitted(comp.maj_arcsec, comp.min_arcsec, FIRST_BEAM_ARCSEC)
    fpeak_true = fint_true * FIRST_BEAM_ARCSEC**2 / (fmaj * fmin)
    if fpeak_true < 1.0:  # FIRST threshold ~1 mJy/beam
        return
    fpeak = fpeak_true * rng.normal(1, 0.03) + rng.normal(0, rms)
    fint = fint_true * rng.normal(1, 0.03) + rng.normal(0, rms * fmaj / FIRST_BEAM_ARCSEC)
    pos = max(0.1, 0.5 * fmaj * rms / fpeak_true)
    ra, dec = _offset(
        comp.ra_deg, comp.dec_deg, abs(rng.normal(0, pos)) / 3600.0, rng.uniform(0, 360)
    )
    maj = comp.maj_arcsec * float(rng.normal(1, 0.05)) if comp.maj_arcsec > 1.0 else 0.0
    mn = comp.min_arcsec * float(rng.normal(1, 0.05)) if comp.maj_arcsec > 1.0 else 0.0
    out.append(
        {
            "FIRST": "J" + iau_name(float(ra), float(dec)),
            "RAJ2000": float(ra),
            "DEJ2000": float(dec),
            "Fpeak": round(float(fpeak), 2),
            "Fint": round(float(fint), 2),
            "Rms": rms,
            "Maj": round(maj, 2),
            "Min": round(mn, 2),
            "PA": round(comp.pa_deg, 1) if maj > 0 else 0.0,
            "fMaj": round(fmaj, 2),
            "fMin": round(fmin, 2),
            "fPA": round(comp.pa_deg, 1),
        }
    )


def _vlass_entry(
    rng: np.random.Generator, src: SkySource, comp: Component, out: list[dict[str, Any]]
) -> None:
    if src.dec_deg <= -40.0:
        return  # VLASS covers Dec > -40
    rms = 0.14
    s3 = src.flux_1400_mjy * comp.frac * (VLASS_FREQ_HZ / REF_FREQ_HZ) ** src.alpha
    fmaj, fmin = _fitted(comp.maj_arcsec, comp.min_arcsec, VLASS_BEAM_ARCSEC)
    peak_true = s3 * VLASS_BEAM_ARCSEC**2 / (fmaj * fmin)
    if peak_true < 5 * rms:
        return
    e_peak = float(np.hypot(rms, 0.03 * peak_true))
    e_tot = e_peak * fmaj / VLASS_BEAM_ARCSEC
    peak = peak_true + rng.normal(0, e_peak)
    total = s3 + rng.normal(0, e_tot)
    pos = max(0.1, 0.5 * fmaj * rms / peak_true)
    ra, dec = _offset(
        comp.ra_deg, comp.dec_deg, abs(rng.normal(0, pos)) / 3600.0, rng.uniform(0, 360)
    )
    resolved = comp.maj_arcsec > 0.5
    out.append(
        {
            "Component_name": "VLASS1QLCIR J"
            + iau_name(float(ra), float(dec), ra_dec=2, dec_dec=1),
            "RA": float(ra),
            "DEC": float(dec),
            "Total_flux": round(float(total), 3),
            "E_Total_flux": round(e_tot, 3),
            "Peak_flux": round(float(peak), 3),
            "E_Peak_flux": round(e_peak, 3),
            "Maj": round(comp.maj_arcsec * float(rng.normal(1, 0.05)), 2) if resolved else 0.0,
            "Min": round(comp.min_arcsec * float(rng.normal(1, 0.05)), 2) if resolved else 0.0,
            "PA": round(comp.pa_deg, 1) if resolved else 0.0,
        }
    )


_UNITS: dict[str, dict[str, str]] = {
    "nvss": {
        "RAJ2000": "deg", "DEJ2000": "deg", "S1.4": "mJy", "e_S1.4": "mJy",
        "MajAxis": "arcsec", "MinAxis": "arcsec", "PA": "deg",
    },
    "first": {
        "RAJ2000": "deg", "DEJ2000": "deg", "Fpeak": "mJy/beam", "Fint": "mJy",
        "Rms": "mJy/beam", "Maj": "arcsec", "Min": "arcsec", "PA": "deg",
        "fMaj": "arcsec", "fMin": "arcsec", "fPA": "deg",
    },
    "vlass": {
        "RA": "deg", "DEC": "deg", "Total_flux": "mJy", "E_Total_flux": "mJy",
        "Peak_flux": "mJy/beam", "E_Peak_flux": "mJy/beam", "Maj": "arcsec",
        "Min": "arcsec", "PA": "deg",
    },
}  # fmt: skip

_COLUMNS: dict[str, list[str]] = {
    "nvss": ["NVSS", "RAJ2000", "DEJ2000", "S1.4", "e_S1.4", "MajAxis", "MinAxis", "PA"],
    "first": ["FIRST", "RAJ2000", "DEJ2000", "Fpeak", "Fint", "Rms", "Maj", "Min", "PA",
              "fMaj", "fMin", "fPA"],
    "vlass": ["Component_name", "RA", "DEC", "Total_flux", "E_Total_flux", "Peak_flux",
              "E_Peak_flux", "Maj", "Min", "PA"],
}  # fmt: skip


def _write_table(rows: list[dict[str, Any]], survey: str, path: Path) -> None:
    import astropy.units as u
    from astropy.table import Table

    cols = _COLUMNS[survey]
    table = Table()
    for c in cols:
        values = [r[c] for r in rows]
        if c in _UNITS[survey]:
            table[c] = np.asarray(values, dtype=np.float64) * u.Unit(_UNITS[survey][c])
        else:
            table[c] = np.asarray(values, dtype=str) if values else np.asarray([], dtype="U16")
    table.meta["ORIGIN"] = "contimg sim catalogs (synthetic)"
    table.meta["MIMICS"] = {
        "nvss": "VizieR VIII/65/nvss (NVSS, Condon+ 1998)",
        "first": "VizieR VIII/92 (FIRST 14dec17 release)",
        "vlass": "CIRADA VLASS Epoch 1 QL components (Gordon+ 2021)",
    }[survey]
    tmp = path.with_name(f".{path.name}.tmp")
    table.write(tmp, format="fits", overwrite=True)
    os.replace(tmp, path)


def sky_to_dict(sky: Sky) -> dict[str, Any]:
    """The machine-readable truth: field, seed, and per source its true properties.

    Per source: ``source_id`` ("NVSS J..."), ``calibrator`` (name or null),
    ``ra_deg``/``dec_deg`` (J2000, true flux-weighted position), ``flux_1400_mjy``
    (true mean flux density at 1.4 GHz), ``alpha``, ``maj_arcsec`` (largest component
    FWHM, 0 for point sources), ``components`` (position, flux fraction, FWHM sizes,
    PA) and ``variability`` (a light curve, see :mod:`contimg.sim.variability`).
    """
    return {
        "format": "contimg-sim-sky/1",
        "field": {
            "ra_deg": sky.centre_ra_deg,
            "dec_deg": sky.centre_dec_deg,
            "radius_deg": sky.radius_deg,
        },
        "seed": sky.seed,
        "epoch_mjd": sky.epoch_mjd,
        "span_days": sky.span_days,
        "ref_freq_hz": REF_FREQ_HZ,
        "sources": [
            {
                "source_id": s.source_id,
                "calibrator": s.calibrator,
                "ra_deg": s.ra_deg,
                "dec_deg": s.dec_deg,
                "flux_1400_mjy": s.flux_1400_mjy,
                "alpha": s.alpha,
                "maj_arcsec": s.maj_arcsec,
                "variable": s.variability.get("kind", "constant") != "constant",
                "variability": s.variability,
                "components": [
                    {
                        "ra_deg": c.ra_deg,
                        "dec_deg": c.dec_deg,
                        "frac": c.frac,
                        "maj_arcsec": c.maj_arcsec,
                        "min_arcsec": c.min_arcsec,
                        "pa_deg": c.pa_deg,
                    }
                    for c in s.components
                ],
            }
            for s in sky.sources
        ],
    }


def sky_from_dict(d: dict[str, Any]) -> Sky:
    """Inverse of :func:`sky_to_dict`."""
    srcs = [
        SkySource(
            source_id=str(s["source_id"]),
            ra_deg=float(s["ra_deg"]),
            dec_deg=float(s["dec_deg"]),
            flux_1400_mjy=float(s["flux_1400_mjy"]),
            alpha=float(s["alpha"]),
            components=[Component(**c) for c in s["components"]],
            variability=dict(s.get("variability") or var.CONSTANT),
            calibrator=s.get("calibrator"),
        )
        for s in d["sources"]
    ]
    f = d["field"]
    return Sky(
        centre_ra_deg=float(f["ra_deg"]),
        centre_dec_deg=float(f["dec_deg"]),
        radius_deg=float(f["radius_deg"]),
        seed=int(d.get("seed", 0)),
        epoch_mjd=float(d.get("epoch_mjd", 0.0)),
        span_days=float(d.get("span_days", 0.0)),
        sources=srcs,
    )


def write_catalogs(sky: Sky, out_dir: Path) -> dict[str, Path]:
    """Write ``nvss.fits``, ``first.fits``, ``vlass.fits`` and ``sky_truth.json``.

    Returns the paths by survey name (``"truth"`` for the truth file). Every file is
    written under a temporary name and renamed.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ContimgError(f"cannot create catalog directory {out_dir}: {exc.strerror}") from None
    if not os.access(out_dir, os.W_OK):
        raise ContimgError(f"catalog directory {out_dir} is not writable")
    rng = np.random.default_rng([sky.seed, 1])
    meas = _measure(sky, rng)
    paths: dict[str, Path] = {}
    for survey, rows in (("nvss", meas.nvss), ("first", meas.first), ("vlass", meas.vlass)):
        p = out_dir / CATALOG_FILES[survey]
        _write_table(rows, survey, p)
        paths[survey] = p
    truth = out_dir / TRUTH_FILE
    tmp = truth.with_name(f".{truth.name}.tmp")
    tmp.write_text(json.dumps(sky_to_dict(sky), indent=1, allow_nan=False))
    os.replace(tmp, truth)
    paths["truth"] = truth
    return paths


def load_sky(catalog_dir: Path) -> Sky:
    """The sky of a catalog directory (its ``sky_truth.json``), with clear errors."""
    path = Path(catalog_dir) / TRUTH_FILE
    if not Path(catalog_dir).is_dir():
        raise ContimgError(
            f"catalog directory {catalog_dir} does not exist; make one with "
            "'contimg sim catalogs --out DIR'"
        )
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ContimgError(
            f"no {TRUTH_FILE} in {catalog_dir}: the simulator needs the sky truth written by "
            "'contimg sim catalogs --out DIR'"
        ) from None
    except OSError as exc:
        raise ContimgError(f"cannot read sky truth {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ContimgError(
            f"sky truth {path} is not valid JSON ({exc.msg}, line {exc.lineno})"
        ) from None
    try:
        return sky_from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ContimgError(f"sky truth {path} is malformed: {exc!r}") from None
