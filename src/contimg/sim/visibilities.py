"""The physics of the simulated visibilities: the sky through the primary beam, noise.

Visibilities (pyuvdata convention, ``V = sum S exp(+2 pi i b.s / lambda)`` with
``b = ant2 - ant1``) are *unprojected*: pyuvdata's drift-scan phasing with the phase
centre at the zenith (apparent RA = LST at each integration, Dec = site latitude);
the dishes point at the meridian at the run's declination. Each component of the
sky is attenuated by the Airy power beam at its position for every integration and
channel. Radiometer noise, antenna gains, delays and bandpasses are added
(:mod:`contimg.sim.instrument`). The files are written by :mod:`contimg.sim.observe`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from contimg.science.beams import airy_power, angular_separation_rad
from contimg.sim import astro
from contimg.sim import variability as var
from contimg.sim._kernels import dft_uniform
from contimg.sim.instrument import InstrumentModel
from contimg.sim.plan import GroupPlan
from contimg.sim.presets import Preset
from contimg.sim.skymodel import Sky
from contimg.telescope import DSA110

log = logging.getLogger(__name__)

C_M_S = 299_792_458.0


@dataclass
class Components:
    """Flattened sky components visible in one group."""

    src_index: NDArray[np.int64]
    app_ra_rad: NDArray[np.float64]
    app_dec_rad: NDArray[np.float64]
    flux_1400_jy: NDArray[np.float64]
    alpha: NDArray[np.float64]
    maj_rad: NDArray[np.float64]
    min_rad: NDArray[np.float64]
    pa_rad: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.src_index.size)


def components_in_group(
    sky: Sky, plan: GroupPlan, dec_deg: float, min_apparent_mjy: float
) -> Components:
    """Components whose apparent flux can exceed ``min_apparent_mjy`` in this group."""
    rows: list[tuple[int, float, float, float, float, float, float, float]] = []
    for i, s in enumerate(sky.sources):
        for c in s.components:
            rows.append(
                (i, c.ra_deg, c.dec_deg, s.flux_1400_mjy * c.frac / 1000.0, s.alpha,
                 c.maj_arcsec, c.min_arcsec, c.pa_deg)
            )  # fmt: skip
    if not rows:
        return _empty_components()
    arr = np.asarray(rows, dtype=np.float64)
    # Pre-select by J2000 position against the ICRS pointing at the group's ends.
    lo_freq = DSA110.band_low_hz
    keep = np.zeros(len(arr), dtype=bool)
    for t in (plan.times_mjd[0], plan.mid_mjd, plan.times_mjd[-1]):
        pra, pdec = astro.icrs_of_pointing(float(t), dec_deg)
        theta = angular_separation_rad(
            np.radians(arr[:, 1]), np.radians(arr[:, 2]), np.radians(pra), np.radians(pdec)
        )
        a = airy_power(theta, lo_freq, dish_diameter_m=DSA110.dish_diameter_m)
        a = np.where(theta < np.radians(4.0 * DSA110.primary_beam_fwhm_deg(lo_freq)), a, 0.0)
        # Variability can raise a flux by up to 60 %.
        keep |= a * arr[:, 3] * 1.6 * 1000.0 > min_apparent_mjy
    arr = arr[keep]
    if len(arr) == 0:
        return _empty_components()
    arr = arr[np.argsort(arr[:, 5] > 0, kind="stable")]  # point components first
    log.debug("group %s: %d components", plan.group_id, len(arr))
    app_ra, app_dec = astro.apparent_radec_deg(arr[:, 1], arr[:, 2], plan.mid_mjd)
    asec = np.pi / 180.0 / 3600.0
    return Components(
        src_index=arr[:, 0].astype(np.int64),
        app_ra_rad=np.radians(app_ra),
        app_dec_rad=np.radians(app_dec),
        flux_1400_jy=arr[:, 3],
        alpha=arr[:, 4],
        maj_rad=arr[:, 5] * asec,
        min_rad=arr[:, 6] * asec,
        pa_rad=np.radians(arr[:, 7]),
    )


def _empty_components() -> Components:
    z = np.zeros(0)
    return Components(np.zeros(0, dtype=np.int64), z, z, z, z, z, z, z)


def _direction_cosines(
    ra: NDArray[np.float64], dec: NDArray[np.float64], ra0: float, dec0: float
) -> tuple[NDArray[np.float64], ...]:
    """(l, m, n) of (ra, dec) about (ra0, dec0), and the east/north unit vectors."""
    dra = ra - ra0
    sd, cd = np.sin(dec), np.cos(dec)
    sd0, cd0 = np.sin(dec0), np.cos(dec0)
    sa, ca = np.sin(dra), np.cos(dra)
    lmn = np.stack([cd * sa, sd * cd0 - cd * sd0 * ca, sd * sd0 + cd * cd0 * ca])
    east = np.stack([ca, sd0 * sa, -cd0 * sa])
    north = np.stack([-sd * sa, cd * cd0 + sd * sd0 * ca, cd * sd0 - sd * cd0 * ca])
    return lmn, east, north


def sky_visibilities(
    *,
    comps: Components,
    sky: Sky,
    uvw_m: NDArray[np.float64],
    lst_rad: NDArray[np.float64],
    pc_app_dec_rad: float,
    times_mjd: NDArray[np.float64],
    freqs_hz: NDArray[np.float64],
    pointing_dec_deg: float,
) -> NDArray[np.complex128]:
    """Noise-free Stokes-I visibilities (Jy) of the sky, pyuvdata convention.

    Parameters
    ----------
    uvw_m : ndarray
        Baseline vectors (ant2 - ant1) in the unprojected frame, metres,
        shape ``(n_times, n_bls, 3)``.
    lst_rad : ndarray
        Apparent LST of each integration, shape ``(n_times,)``.
    pc_app_dec_rad : float
        Apparent declination of the (zenith) phase centre.
    times_mjd : ndarray
        Integration centres, shape ``(n_times,)``.
    freqs_hz : ndarray
        Channel centres, uniformly spaced, ascending, shape ``(n_chan,)``.

    Returns
    -------
    ndarray
        Complex visibilities, shape ``(n_times, n_bls, n_chan)``.
    """
    n_t, n_bl, _ = uvw_m.shape
    n_ch = freqs_hz.size
    out = np.zeros((n_t, n_bl, n_ch), dtype=np.complex128)
    if len(comps) == 0:
        return out
    dnu = float(freqs_hz[1] - freqs_hz[0]) if n_ch > 1 else 0.0
    if n_ch > 1 and not np.allclose(np.diff(freqs_hz), dnu, rtol=1e-9, atol=1e-3):
        raise ValueError("freqs_hz must be uniformly spaced")
    point_dec = np.radians(pointing_dec_deg)
    spec = (freqs_hz[None, :] / 1.4e9) ** comps.alpha[:, None] * comps.flux_1400_jy[:, None]
    n_c = len(comps)
    lmn = np.empty((n_t, 3, n_c))
    east = np.empty((n_t, 3, n_c))
    north = np.empty((n_t, 3, n_c))
    weights = np.empty((n_t, n_ch, n_c))
    variable = [
        (j, sky.sources[int(si)].variability)
        for j, si in enumerate(comps.src_index)
        if sky.sources[int(si)].variability.get("kind", "constant") != "constant"
    ]
    for t in range(n_t):
        lmn[t], east[t], north[t] = _direction_cosines(
            comps.app_ra_rad, comps.app_dec_rad, float(lst_rad[t]), pc_app_dec_rad
        )
        theta = angular_separation_rad(
            comps.app_ra_rad, comps.app_dec_rad, float(lst_rad[t]), point_dec
        )
        beam = airy_power(theta[:, None], freqs_hz[None, :], dish_diameter_m=DSA110.dish_diameter_m)
        factor = np.ones(n_c)
        for j, lc in variable:
            factor[j] = float(var.flux_factor(lc, float(times_mjd[t])))
        weights[t] = (spec * beam * factor[:, None]).T
    dft_uniform(
        np.ascontiguousarray(uvw_m, dtype=np.float64), lmn, east, north,
        comps.maj_rad, comps.min_rad, comps.pa_rad, weights,
        float(freqs_hz[0]), dnu, int(np.sum(comps.maj_rad == 0)), out,
    )  # fmt: skip
    return out


def noise_sigma_jy(preset: Preset) -> float:
    return DSA110.thermal_noise_jy(
        chan_width_hz=preset.chan_width_hz, integration_s=DSA110.integration_s
    )


def predicted_image_noise_jy(preset: Preset, n_antennas: int) -> float:
    """Radiometer rms (Jy/beam) of a naturally weighted Stokes-I image of one group.

    Each visibility's real and imaginary parts carry ``SEFD / sqrt(2 dnu tau)``;
    Stokes I averages XX and YY; the image averages all cross-correlation samples.
    """
    n_bl = n_antennas * (n_antennas - 1) // 2
    n_vis = n_bl * DSA110.n_integrations_per_group * DSA110.n_subbands * preset.n_chan_per_subband
    return float(noise_sigma_jy(preset) / np.sqrt(2.0 * n_vis))


def corrupt_visibilities(
    vis_i: NDArray[np.complex128],
    freqs: NDArray[np.float64],
    a1: NDArray[np.int64],
    a2: NDArray[np.int64],
    auto: NDArray[np.bool_],
    rng: np.random.Generator,
    sigma: float,
    sigma_auto: float,
    *,
    times_mjd: NDArray[np.float64],
    noise: bool,
    instrument: InstrumentModel,
) -> NDArray[np.complex64]:
    """Four polarisations with noise and antenna corruptions, shape (t, bl, chan, 4)."""
    n_t, n_bl, n_ch = vis_i.shape
    data = np.zeros((n_t, n_bl, n_ch, 4), dtype=np.complex128)
    # Unpolarised sky: XX = YY = I, XY = YX = 0.
    data[..., 0] = vis_i
    data[..., 3] = vis_i
    if noise:
        data += sigma * (rng.standard_normal(data.shape) + 1j * rng.standard_normal(data.shape))
    # Autocorrelations: system power (SEFD) with its own radiometer noise. (Integer
    # index then assign back: mixing a boolean mask and a scalar index across a slice
    # would move the axes.)
    ai = np.flatnonzero(auto)
    autos = data[:, ai]  # (t, n_auto, chan, 4), a copy
    for p in (0, 3):
        autos[..., p] = DSA110.sefd_jy + (
            sigma_auto * rng.standard_normal(autos.shape[:3]) if noise else 0.0
        )
    autos[..., 2] = np.conj(autos[..., 1])
    data[:, ai] = autos
    if instrument.enabled:
        jones = instrument.jones(times_mjd, freqs)  # (t, ant, 2, chan)
        for p, (fp, fq) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            j1 = jones[:, a1, fp, :]
            j2 = jones[:, a2, fq, :]
            data[..., p] *= np.conj(j1) * j2
        # Autos XX/YY stay exactly real: |J|^2 * power.
        autos = data[:, ai]
        autos[..., 0] = autos[..., 0].real
        autos[..., 3] = autos[..., 3].real
        data[:, ai] = autos
    return data.astype(np.complex64)
