"""Drawing a synthetic radio sky: NVSS-like counts, sizes, doubles, light curves.

:func:`make_sky` draws a :class:`~contimg.sim.skymodel.Sky` around a field centre
with NVSS-like density and counts; :func:`inject_source` adds one chosen source.
The sky's data model is :mod:`contimg.sim.skymodel`; the catalogs made from it and
the truth file are :mod:`contimg.sim.catalogs`. This module also gathers the
simulator's sky API (the names in ``__all__``).

Flux densities are in mJy, angles in degrees (sizes in arcsec), spectral index
``alpha`` with ``S ~ nu**alpha``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from contimg.errors import ContimgError
from contimg.sim import variability as var
from contimg.sim.catalogs import (
    CATALOG_FILES,
    TRUTH_FILE,
    load_sky,
    sky_from_dict,
    sky_to_dict,
    write_catalogs,
)
from contimg.sim.skymodel import (
    CALIBRATORS,
    REF_FREQ_HZ,
    Component,
    Sky,
    SkySource,
    iau_name,
    offset,
    sep_deg,
)

__all__ = [
    "CALIBRATORS",
    "CATALOG_FILES",
    "NVSS_DENSITY_PER_DEG2",
    "REF_FREQ_HZ",
    "TRUTH_FILE",
    "Component",
    "Sky",
    "SkySource",
    "draw_fluxes_mjy",
    "field_area_deg2",
    "iau_name",
    "inject_source",
    "load_sky",
    "make_sky",
    "sky_from_dict",
    "sky_to_dict",
    "write_catalogs",
]

NVSS_DENSITY_PER_DEG2 = 53.0
"""NVSS sources per square degree above 2.5 mJy (1.8 million over 33,800 deg^2)."""


def field_area_deg2(radius_deg: float) -> float:
    """Area (deg^2) of a cone of ``radius_deg``."""
    return float(2 * np.pi * (1 - np.cos(np.radians(radius_deg))) * (180 / np.pi) ** 2)


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
    ras, decs = offset(ra_deg, dec_deg, sep, pa)
    fluxes = draw_fluxes_mjy(rng, n)
    if min_flux_mjy > 2.5:  # same power law, starting higher
        fluxes = min_flux_mjy * fluxes / 2.5
    fluxes = np.minimum(fluxes, max_flux_mjy)
    cal_pos = [
        (name, c)
        for name, c in CALIBRATORS.items()
        if sep_deg(ra_deg, dec_deg, c[0], c[1]) <= radius_deg
    ]
    keep = _thin(np.asarray(ras), np.asarray(decs), min_sep_arcsec=60.0)
    for _name, c in cal_pos:  # clear 3' around calibrators
        keep &= sep_deg(np.asarray(ras), np.asarray(decs), c[0], c[1]) > 3.0 / 60.0

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
        and float(sep_deg(s.ra_deg, s.dec_deg, ra_deg, dec_deg)) * 3600.0 <= clear_arcsec
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
        r1, d1 = offset(ra, dec, d_arcsec * (1 - frac1) / 3600.0, pa)
        r2, d2 = offset(ra, dec, d_arcsec * frac1 / 3600.0, pa + 180.0)
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
