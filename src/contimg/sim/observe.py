"""Simulated DSA-110 drift-scan groups written as UVH5 subband files, with truth.

One *group* is 24 integrations of 12.884902 s (about 309 s) written as 16 UVH5
files, one per subband, named ``YYYY-MM-DDTHH:MM:SS_sbNN.hdf5`` (``sb00`` is the
highest frequency). The file timestamps of a group jitter by up to
``JITTER_S`` seconds; the group id is the ``sb00`` file's timestamp. Consecutive
groups follow each other without a gap, so the sky drifts by about 1.29 deg of RA
from group to group.

Visibilities (pyuvdata convention, ``V = sum S exp(+2 pi i b.s / lambda)`` with
``b = ant2 - ant1``) are *unprojected*: pyuvdata's drift-scan phasing with the phase
centre at the zenith (apparent RA = LST at each integration, Dec = site latitude);
the dishes point at the meridian at ``dec_deg``, which the header records as
``extra_keywords['phase_center_dec']`` (radians). Each component of the sky is
attenuated by the Airy power beam at its position for every integration and channel.
Radiometer noise, antenna gains, delays and bandpasses are added
(:mod:`contimg.sim.instrument`).

Entry points: :func:`simulate_groups` (a generator, one group at a time) and
:func:`plan_run`. See ``docs/simulator.md``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from contimg.errors import ContimgError
from contimg.science.beams import airy_power, angular_separation_rad
from contimg.sim import astro
from contimg.sim import variability as var
from contimg.sim._kernels import dft_uniform
from contimg.sim.instrument import InstrumentModel
from contimg.sim.layout import Layout, ecef_offsets_m, load_layout
from contimg.sim.presets import Preset, get_preset
from contimg.sim.sky import CALIBRATORS, Sky, load_sky
from contimg.telescope import DSA110

log = logging.getLogger(__name__)

C_M_S = 299_792_458.0
JITTER_S = 3.0
"""File timestamps of one group differ from the group start by at most this (s)."""
MAX_ZENITH_ANGLE_DEG = 75.0
"""Pointings further than this from the zenith are refused (DSA-110 points near it)."""
POLS = ("xx", "xy", "yx", "yy")
"""Polarisation order in the files (pyuvdata codes -5, -7, -8, -6)."""


# ------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class GroupPlan:
    """Timing and names of one group.

    Attributes
    ----------
    index : int
        0-based position in the run.
    start_mjd : float
        UTC MJD of the start of the first integration.
    times_mjd : ndarray
        Centres of the 24 integrations, UTC MJD, shape ``(24,)``.
    file_times : tuple of str
        ``YYYY-MM-DDTHH:MM:SS`` timestamp of each subband's file (index = subband).
    """

    index: int
    start_mjd: float
    times_mjd: NDArray[np.float64]
    file_times: tuple[str, ...]

    @property
    def group_id(self) -> str:
        """The canonical group id: the ``sb00`` file's timestamp."""
        return self.file_times[0]

    @property
    def mid_mjd(self) -> float:
        return float(self.times_mjd.mean())

    def file_names(self) -> list[str]:
        return [f"{ts}_sb{sb:02d}.hdf5" for sb, ts in enumerate(self.file_times)]


def plan_groups(
    start_mjd: float,
    n_groups: int,
    *,
    seed: int,
    days: int = 1,
    select: Sequence[int] | None = None,
) -> list[GroupPlan]:
    """Timing of the groups of a run starting at ``start_mjd``.

    A day's run is ``n_groups`` consecutive groups; ``select`` keeps only those
    indices (0-based; default all), so a run can skip the groups in between (they
    are not simulated). With ``days`` > 1 the same groups are planned again every
    sidereal day: a drift-scan telescope sees the same strip of sky at the same LST
    each day, which is how it gets epochs of a source. Plans are in time order and
    numbered 0, 1, ... (``GroupPlan.index``); the file-time jitter of a group does
    not depend on ``select``.
    """
    if n_groups < 1:
        raise ContimgError(f"number of groups must be at least 1 (got {n_groups})")
    if days < 1:
        raise ContimgError(f"number of days must be at least 1 (got {days})")
    chosen = set(range(n_groups)) if select is None else set(select)
    outside = sorted(g for g in chosen if not 0 <= g < n_groups)
    if outside or not chosen:
        raise ContimgError(
            f"selected groups {outside or '(none)'} are not among the run's 0..{n_groups - 1}"
        )
    rng = np.random.default_rng([seed, 3])
    dur_s = DSA110.group_duration_s
    plans: list[GroupPlan] = []
    for day in range(days):
        day_start = start_mjd + day * astro.SIDEREAL_DAY_S / 86_400.0
        for g in range(n_groups):
            jitter = rng.uniform(-JITTER_S, JITTER_S, DSA110.n_subbands)
            if g not in chosen:
                continue
            start = day_start + g * dur_s / 86_400.0
            times = start + (np.arange(DSA110.n_integrations_per_group) + 0.5) * (
                DSA110.integration_s / 86_400.0
            )
            names = tuple(astro.iso_from_mjd(start + j / 86_400.0) for j in jitter)
            plans.append(
                GroupPlan(len(plans), float(start), np.asarray(times, dtype=np.float64), names)
            )
    return plans


def parse_selection(text: str) -> list[int]:
    """Group indices from ``"0,8-10"`` (comma-separated indices and inclusive ranges)."""
    out: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        lo, sep, hi = part.partition("-")
        try:
            first = int(lo)
            last = int(hi) if sep else first
        except ValueError:
            raise ContimgError(
                f"bad group selection {text!r}: write indices and ranges, e.g. '0,8-10'"
            ) from None
        if first < 0 or last < first:
            raise ContimgError(f"bad group range {part!r} in {text!r}")
        out.update(range(first, last + 1))
    return sorted(out)


def calibrator_start_mjd(name: str, *, after_mjd: float, group_index: int = 0) -> float:
    """Run start so that calibrator ``name`` transits mid-way through group ``group_index``.

    The first transit at or after ``after_mjd`` is used.
    """
    ra, dec = calibrator_position(name)
    app_ra, _ = astro.apparent_radec_deg(ra, dec, after_mjd)
    transit = astro.next_transit_mjd(float(app_ra[0]), after_mjd)
    app_ra, _ = astro.apparent_radec_deg(ra, dec, transit)  # refine at the transit epoch
    transit = astro.next_transit_mjd(float(app_ra[0]), transit - 0.01)
    return transit - (group_index + 0.5) * DSA110.group_duration_s / 86_400.0


def calibrator_position(name: str) -> tuple[float, float]:
    """J2000 RA, Dec (deg) of a standard calibrator (case-insensitive name)."""
    key = {k.upper(): k for k in CALIBRATORS}.get(name.upper().replace(" ", ""))
    if key is None:
        raise ContimgError(f"unknown calibrator {name!r}: choose one of {', '.join(CALIBRATORS)}")
    ra, dec, _, _ = CALIBRATORS[key]
    return ra, dec


def check_pointing(dec_deg: float) -> None:
    """Refuse a declination the array cannot point at (clear error)."""
    za = abs(dec_deg - DSA110.site.lat_deg)
    if not -90.0 <= dec_deg <= 90.0 or za > MAX_ZENITH_ANGLE_DEG:
        lo = DSA110.site.lat_deg - MAX_ZENITH_ANGLE_DEG
        hi = min(90.0, DSA110.site.lat_deg + MAX_ZENITH_ANGLE_DEG)
        raise ContimgError(
            f"declination {dec_deg} deg cannot be observed: DSA-110 (latitude "
            f"{DSA110.site.lat_deg} deg) points on the meridian within "
            f"{MAX_ZENITH_ANGLE_DEG:.0f} deg of the zenith, i.e. Dec {lo:.1f} to {hi:.1f} deg"
        )


def _check_out_dir(path: Path, what: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ContimgError(f"cannot create {what} {path}: {exc.strerror}") from None
    if not path.is_dir():
        raise ContimgError(f"{what} {path} is not a directory")
    probe = path / f".contimg-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ContimgError(f"{what} {path} is not writable: {exc.strerror}") from None


# ------------------------------------------------------------------------- physics


@dataclass
class _Components:
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


def _components_in_group(
    sky: Sky, plan: GroupPlan, dec_deg: float, min_apparent_mjy: float
) -> _Components:
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
    return _Components(
        src_index=arr[:, 0].astype(np.int64),
        app_ra_rad=np.radians(app_ra),
        app_dec_rad=np.radians(app_dec),
        flux_1400_jy=arr[:, 3],
        alpha=arr[:, 4],
        maj_rad=arr[:, 5] * asec,
        min_rad=arr[:, 6] * asec,
        pa_rad=np.radians(arr[:, 7]),
    )


def _empty_components() -> _Components:
    z = np.zeros(0)
    return _Components(np.zeros(0, dtype=np.int64), z, z, z, z, z, z, z)


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
    comps: _Components,
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


# ------------------------------------------------------------------------- writing


@dataclass
class RunConfig:
    """Everything fixed for a run (same for all its groups)."""

    out_dir: Path
    sky: Sky
    dec_deg: float
    preset: Preset
    layout: Layout
    instrument: InstrumentModel
    seed: int
    noise: bool = True
    truth_dir: Path | None = None
    catalog_dir: Path | None = None
    plans: list[GroupPlan] = field(default_factory=list)


def _template(cfg: RunConfig, plan: GroupPlan) -> Any:
    """A UVData holding one group's metadata (sb00 frequencies, no data yet)."""
    import astropy.units as u
    from astropy.time import Time
    from pyuvdata import Telescope, UVData

    astro.configure_iers()
    s = DSA110.site
    from astropy.coordinates import EarthLocation

    loc = EarthLocation.from_geodetic(s.lon_deg * u.deg, s.lat_deg * u.deg, s.height_m * u.m)
    n_ant = cfg.layout.n_antennas
    tel = Telescope.new(
        name="DSA-110",
        location=loc,
        antenna_positions=ecef_offsets_m(cfg.layout.enu_m),
        antenna_names=list(cfg.layout.names),
        antenna_numbers=np.arange(n_ant),
        antenna_diameters=np.full(n_ant, DSA110.dish_diameter_m),
        instrument="DSA-110",
        x_orientation="east",
        feeds=["x", "y"],
        mount_type="fixed",
        update_from_known=False,
    )
    antpairs = [(a, b) for a in range(n_ant) for b in range(a, n_ant)]
    jd = Time(plan.times_mjd, format="mjd", scale="utc").jd
    freqs = DSA110.subband_channel_freqs_hz(0, cfg.preset.n_chan_per_subband)
    uvd = UVData.new(
        freq_array=freqs,
        polarization_array=list(POLS),
        times=jd,
        telescope=tel,
        antpairs=np.asarray(antpairs),
        do_blt_outer=True,
        integration_time=DSA110.integration_s,
        channel_width=cfg.preset.chan_width_hz,
        time_axis_faster_than_bls=False,
        empty=True,
        vis_units="Jy",
    )
    uvd.extra_keywords["phase_center_dec"] = float(np.radians(cfg.dec_deg))
    uvd.extra_keywords["sim_preset"] = cfg.preset.name
    uvd.object_name = "drift"
    uvd.history = f"contimg sim observe: preset {cfg.preset.name}, seed {cfg.seed}"
    return uvd


def _write_atomically(uvd: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    try:
        uvd.write_uvh5(str(tmp), clobber=True)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _group_truth(cfg: RunConfig, plan: GroupPlan, paths: list[Path]) -> dict[str, Any]:
    mid = plan.mid_mjd
    pra, pdec = astro.icrs_of_pointing(mid, cfg.dec_deg)
    f_c = DSA110.centre_freq_hz
    ra = np.array([s.ra_deg for s in cfg.sky.sources])
    dec = np.array([s.dec_deg for s in cfg.sky.sources])
    theta = angular_separation_rad(
        np.radians(ra), np.radians(dec), np.radians(pra), np.radians(pdec)
    )
    sep_deg = np.degrees(theta)
    beam_c = airy_power(theta, f_c, dish_diameter_m=DSA110.dish_diameter_m)
    sources = []
    for i, s in enumerate(cfg.sky.sources):
        if sep_deg[i] > 3.0:
            continue
        f = float(var.flux_factor(s.variability, mid))
        flux = s.flux_1400_mjy * f
        sources.append(
            {
                "source_id": s.source_id,
                "flux_1400_mjy": flux,
                "flux_centre_mjy": flux * (f_c / 1.4e9) ** s.alpha,
                "variability_factor": f,
                "sep_deg": float(sep_deg[i]),
                "beam_centre_freq": float(beam_c[i]),
                "apparent_centre_mjy": flux * (f_c / 1.4e9) ** s.alpha * float(beam_c[i]),
            }
        )
    g = cfg.instrument.gains(mid)[0]
    tau = cfg.instrument.delays_ns(mid)[0]
    return {
        "format": "contimg-sim-group/1",
        "group_id": plan.group_id,
        "index": plan.index,
        "files": [p.name for p in paths],
        "start_mjd": plan.start_mjd,
        "mid_mjd": mid,
        "times_mjd": plan.times_mjd.tolist(),
        "pointing_ra_deg": pra,
        "pointing_dec_deg": pdec,
        "pointing_app_dec_deg": cfg.dec_deg,
        "lst_mid_deg": float(astro.lst_deg(mid)),
        "centre_freq_hz": f_c,
        "preset": cfg.preset.name,
        "noise_jy_per_vis": _noise_sigma(cfg.preset) if cfg.noise else 0.0,
        "image_noise_natural_jy": predicted_image_noise_jy(cfg.preset, cfg.layout.n_antennas)
        if cfg.noise
        else 0.0,
        "gains_mid": {
            "amp": np.abs(g).round(6).tolist(),
            "phase_deg": np.degrees(np.angle(g)).round(4).tolist(),
        },
        "delays_mid_ns": tau.round(5).tolist(),
        "sources": sources,
    }


def _noise_sigma(preset: Preset) -> float:
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
    return float(_noise_sigma(preset) / np.sqrt(2.0 * n_vis))


def simulate_group(cfg: RunConfig, plan: GroupPlan) -> dict[str, Any]:
    """Write the 16 subband files of one group and return its truth (a dict)."""
    uvd = _template(cfg, plan)
    n_ant = cfg.layout.n_antennas
    n_t = plan.times_mjd.size
    nbls = uvd.Nbls
    # Time-major rows: row = t * nbls + b.
    uvw = uvd.uvw_array.reshape(n_t, nbls, 3)
    lst = uvd.lst_array.reshape(n_t, nbls)[:, 0]
    pc_dec = float(np.asarray(uvd.phase_center_app_dec).reshape(n_t, nbls)[0, 0])
    a1 = uvd.ant_1_array[:nbls]
    a2 = uvd.ant_2_array[:nbls]
    auto = a1 == a2
    comps = _components_in_group(cfg.sky, plan, cfg.dec_deg, cfg.preset.min_apparent_flux_mjy)
    rng = np.random.default_rng([cfg.seed, 11, plan.index])
    sigma = _noise_sigma(cfg.preset)
    sigma_auto = DSA110.sefd_jy / np.sqrt(cfg.preset.chan_width_hz * DSA110.integration_s)
    n_ch = cfg.preset.n_chan_per_subband
    paths: list[Path] = []
    # Subbands from the lowest frequency (sb15) upward, so that blocks of contiguous
    # channels share one phase recurrence; files are still written one at a time.
    block = _subband_blocks(cfg.preset, nbls)
    order = list(range(DSA110.n_subbands - 1, -1, -1))
    written: dict[int, Path] = {}
    for chunk in (order[i : i + block] for i in range(0, len(order), block)):
        freqs = np.concatenate([DSA110.subband_channel_freqs_hz(sb, n_ch) for sb in chunk])
        vis_i = sky_visibilities(
            comps=comps,
            sky=cfg.sky,
            uvw_m=uvw,
            lst_rad=lst,
            pc_app_dec_rad=pc_dec,
            times_mjd=plan.times_mjd,
            freqs_hz=freqs,
            pointing_dec_deg=cfg.dec_deg,
        )
        for j, sb in enumerate(chunk):
            f_sb = freqs[j * n_ch : (j + 1) * n_ch]
            v_sb = vis_i[:, :, j * n_ch : (j + 1) * n_ch]
            data = _corrupt(cfg, plan, v_sb, f_sb, a1, a2, auto, rng, sigma, sigma_auto)
            uvd.freq_array = f_sb
            uvd.channel_width = np.full(n_ch, cfg.preset.chan_width_hz)
            uvd.data_array = data.reshape(n_t * nbls, n_ch, 4)
            uvd.flag_array = np.zeros(uvd.data_array.shape, dtype=bool)
            uvd.nsample_array = np.ones(uvd.data_array.shape, dtype=np.float32)
            path = cfg.out_dir / f"{plan.file_times[sb]}_sb{sb:02d}.hdf5"
            _write_atomically(uvd, path)
            written[sb] = path
        del vis_i
    paths = [written[sb] for sb in range(DSA110.n_subbands)]
    del n_ant
    return _group_truth(cfg, plan, paths)


def _subband_blocks(preset: Preset, nbls: int) -> int:
    """Subbands computed together: as many as fit in ~400 MB of complex128 visibilities."""
    per_sb = nbls * DSA110.n_integrations_per_group * preset.n_chan_per_subband * 16
    return int(max(1, min(DSA110.n_subbands, 400e6 // per_sb)))


def _corrupt(
    cfg: RunConfig,
    plan: GroupPlan,
    vis_i: NDArray[np.complex128],
    freqs: NDArray[np.float64],
    a1: NDArray[np.int64],
    a2: NDArray[np.int64],
    auto: NDArray[np.bool_],
    rng: np.random.Generator,
    sigma: float,
    sigma_auto: float,
) -> NDArray[np.complex64]:
    """Four polarisations with noise and antenna corruptions, shape (t, bl, chan, 4)."""
    n_t, n_bl, n_ch = vis_i.shape
    data = np.zeros((n_t, n_bl, n_ch, 4), dtype=np.complex128)
    # Unpolarised sky: XX = YY = I, XY = YX = 0.
    data[..., 0] = vis_i
    data[..., 3] = vis_i
    if cfg.noise:
        data += sigma * (rng.standard_normal(data.shape) + 1j * rng.standard_normal(data.shape))
    # Autocorrelations: system power (SEFD) with its own radiometer noise. (Integer
    # index then assign back: mixing a boolean mask and a scalar index across a slice
    # would move the axes.)
    ai = np.flatnonzero(auto)
    autos = data[:, ai]  # (t, n_auto, chan, 4), a copy
    for p in (0, 3):
        autos[..., p] = DSA110.sefd_jy + (
            sigma_auto * rng.standard_normal(autos.shape[:3]) if cfg.noise else 0.0
        )
    autos[..., 2] = np.conj(autos[..., 1])
    data[:, ai] = autos
    if cfg.instrument.enabled:
        jones = cfg.instrument.jones(plan.times_mjd, freqs)  # (t, ant, 2, chan)
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


# ------------------------------------------------------------------------- the run


def plan_run(
    *,
    out_dir: Path,
    catalog_dir: Path | None = None,
    sky: Sky | None = None,
    start_mjd: float,
    n_groups: int,
    dec_deg: float | None = None,
    preset: str = "ci",
    seed: int = 0,
    antpos: Path | None = None,
    calibrator: str | None = None,
    calibrator_group: int = 0,
    truth_dir: Path | None = None,
    corrupt: bool = True,
    noise: bool = True,
    days: int = 1,
    select: Sequence[int] | None = None,
) -> RunConfig:
    """Check the inputs and fix everything about a run (nothing is written but dirs).

    Parameters
    ----------
    out_dir : Path
        Where the UVH5 files go (flat, like the telescope's incoming directory).
    catalog_dir, sky : Path or Sky
        The sky: a directory written by ``contimg sim catalogs`` or a :class:`Sky`.
    start_mjd : float
        UTC MJD of the start of the first group. With ``calibrator`` it is the
        earliest time: the run starts so that the calibrator's first transit after it
        falls mid-way through group ``calibrator_group``.
    n_groups : int
        Consecutive groups of a day's run.
    dec_deg : float, optional
        Pointing declination (apparent), degrees. Defaults to the calibrator's.
    preset : str
        ``ci``, ``demo`` or ``full``.
    antpos : Path, optional
        Station CSV (name, latitude, longitude, elevation); default T-shaped layout.
    truth_dir : Path, optional
        Where per-group truth JSON goes; default ``out_dir / "truth"``.
    corrupt, noise : bool
        Apply antenna corruptions / radiometer noise (both on by default).
    days : int
        Observe the same groups on this many successive sidereal days (the same LST).
    select : sequence of int, optional
        Indices of the day's groups to simulate (default all); the others are skipped.
    """
    p = get_preset(preset)
    if sky is None:
        if catalog_dir is None:
            raise ContimgError("give a catalog directory (--catalog-dir) with the sky to observe")
        sky = load_sky(catalog_dir)
    if calibrator is not None:
        cra, cdec = calibrator_position(calibrator)
        if dec_deg is None:
            dec_deg = cdec
        if abs(dec_deg - cdec) > 1.5:
            raise ContimgError(
                f"calibrator {calibrator} (Dec {cdec:+.2f} deg) does not pass within 1.5 deg "
                f"of the pointing Dec {dec_deg:+.2f} deg; point at its declination or pick "
                "another calibrator"
            )
        if not any(
            s.calibrator and s.calibrator.upper() == calibrator.upper() for s in sky.sources
        ):
            raise ContimgError(
                f"calibrator {calibrator} is not in the sky of {catalog_dir or 'the given sky'}; "
                f"make catalogs around it: contimg sim catalogs --ra {cra:.3f} --dec {cdec:.3f}"
            )
        if not 0 <= calibrator_group < n_groups:
            raise ContimgError(
                f"calibrator group {calibrator_group} is outside the run's 0..{n_groups - 1}"
            )
        if select is not None and calibrator_group not in select:
            raise ContimgError(
                f"calibrator group {calibrator_group} is not among the selected groups "
                f"{sorted(select)}"
            )
        start_mjd = calibrator_start_mjd(
            calibrator, after_mjd=start_mjd, group_index=calibrator_group
        )
    if dec_deg is None:
        dec_deg = sky.centre_dec_deg
    check_pointing(dec_deg)
    layout = load_layout(antpos, p.n_antennas)
    _check_out_dir(Path(out_dir), "output directory")
    tdir = Path(truth_dir) if truth_dir is not None else Path(out_dir) / "truth"
    _check_out_dir(tdir, "truth directory")
    instrument = InstrumentModel.random(
        layout.n_antennas, seed=seed, t0_mjd=start_mjd, enabled=corrupt
    )
    cfg = RunConfig(
        out_dir=Path(out_dir),
        sky=sky,
        dec_deg=float(dec_deg),
        preset=p,
        layout=layout,
        instrument=instrument,
        seed=seed,
        noise=noise,
        truth_dir=tdir,
        catalog_dir=Path(catalog_dir) if catalog_dir is not None else None,
        plans=plan_groups(start_mjd, n_groups, seed=seed, days=days, select=select),
    )
    _warn_if_off_sky(cfg)
    return cfg


def _warn_if_off_sky(cfg: RunConfig) -> None:
    for plan in (cfg.plans[0], cfg.plans[-1]):
        pra, pdec = astro.icrs_of_pointing(plan.mid_mjd, cfg.dec_deg)
        sep = np.degrees(
            angular_separation_rad(
                np.radians(pra),
                np.radians(pdec),
                np.radians(cfg.sky.centre_ra_deg),
                np.radians(cfg.sky.centre_dec_deg),
            )
        )
        if sep > cfg.sky.radius_deg:
            log.warning(
                "group %s points at RA %.2f Dec %.2f, %.1f deg from the catalog field "
                "centre (radius %.1f deg): part of its sky is empty",
                plan.group_id, pra, pdec, sep, cfg.sky.radius_deg,
            )  # fmt: skip


def run_truth(cfg: RunConfig) -> dict[str, Any]:
    """Run-level truth: preset, layout, instrument model and the group plan."""
    return {
        "format": "contimg-sim-run/1",
        "preset": cfg.preset.to_dict(),
        "seed": cfg.seed,
        "dec_deg": cfg.dec_deg,
        "catalog_dir": str(cfg.catalog_dir) if cfg.catalog_dir else None,
        "antennas": {
            "names": list(cfg.layout.names),
            "enu_m": cfg.layout.enu_m.tolist(),
            "source": cfg.layout.source,
        },
        "noise": cfg.noise,
        "noise_jy_per_vis": _noise_sigma(cfg.preset),
        "instrument": cfg.instrument.to_dict(),
        "groups": [
            {"group_id": p.group_id, "start_mjd": p.start_mjd, "files": p.file_names()}
            for p in cfg.plans
        ],
    }


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, allow_nan=False))
    os.replace(tmp, path)


def run_groups(
    cfg: RunConfig,
    *,
    pace_s: float | None = None,
    progress: Callable[[dict[str, Any], float], None] | None = None,
    skip_existing: bool = False,
) -> Iterator[dict[str, Any]]:
    """Simulate the planned groups one at a time, yielding each group's truth.

    With ``pace_s``, each group is released no sooner than ``pace_s`` seconds after
    the previous one (``DSA110.group_duration_s`` is real time). The run truth is in
    ``truth_dir/run.json``; each group's in ``truth_dir/<group_id>.json``.
    With ``skip_existing``, a group whose truth file exists (written only after its
    16 files are in place) is not simulated again: an interrupted run resumes.
    """
    assert cfg.truth_dir is not None
    _write_json(cfg.truth_dir / "run.json", run_truth(cfg))
    last = time.monotonic()
    released = 0
    for plan in cfg.plans:
        if skip_existing and (cfg.truth_dir / f"{plan.group_id}.json").exists():
            continue
        released += 1
        if pace_s is not None and released > 1:
            wait = pace_s - (time.monotonic() - last)
            if wait > 0:
                time.sleep(wait)
        t0 = time.monotonic()
        truth = simulate_group(cfg, plan)
        _write_json(cfg.truth_dir / f"{plan.group_id}.json", truth)
        last = time.monotonic()
        if progress is not None:
            progress(truth, last - t0)
        yield truth


def simulate_groups(
    *,
    out_dir: Path,
    start_mjd: float,
    n_groups: int,
    catalog_dir: Path | None = None,
    sky: Sky | None = None,
    dec_deg: float | None = None,
    preset: str = "ci",
    seed: int = 0,
    antpos: Path | None = None,
    calibrator: str | None = None,
    calibrator_group: int = 0,
    truth_dir: Path | None = None,
    corrupt: bool = True,
    noise: bool = True,
    pace_s: float | None = None,
    days: int = 1,
    select: Sequence[int] | None = None,
) -> Iterator[dict[str, Any]]:
    """Plan a run (:func:`plan_run`, same arguments) and simulate it group by group.

    Input errors are raised before the first group is written. Yields each group's
    truth dict as soon as its 16 files are in ``out_dir``.
    """
    cfg = plan_run(
        out_dir=out_dir, catalog_dir=catalog_dir, sky=sky, start_mjd=start_mjd,
        n_groups=n_groups, dec_deg=dec_deg, preset=preset, seed=seed, antpos=antpos,
        calibrator=calibrator, calibrator_group=calibrator_group, truth_dir=truth_dir,
        corrupt=corrupt, noise=noise, days=days, select=select,
    )  # fmt: skip
    return run_groups(cfg, pace_s=pace_s)
