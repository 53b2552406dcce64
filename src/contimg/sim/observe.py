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

The group timing is planned by :mod:`contimg.sim.plan`, the visibilities computed
by :mod:`contimg.sim.visibilities`; this module writes the files and the truth.
Entry points: :func:`simulate_groups` (a generator, one group at a time) and
:func:`plan_run`; ``__all__`` gathers the simulator's observing API. See
``docs/simulator.md``.
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

from contimg.errors import ContimgError
from contimg.science.beams import airy_power, angular_separation_rad
from contimg.sim import astro
from contimg.sim import variability as var
from contimg.sim.catalogs import load_sky
from contimg.sim.instrument import InstrumentModel
from contimg.sim.layout import Layout, ecef_offsets_m, load_layout
from contimg.sim.plan import (
    JITTER_S,
    MAX_ZENITH_ANGLE_DEG,
    GroupPlan,
    calibrator_position,
    calibrator_start_mjd,
    check_out_dir,
    check_pointing,
    parse_selection,
    plan_groups,
)
from contimg.sim.presets import Preset, get_preset
from contimg.sim.skymodel import Sky
from contimg.sim.visibilities import (
    components_in_group,
    corrupt_visibilities,
    noise_sigma_jy,
    predicted_image_noise_jy,
    sky_visibilities,
)
from contimg.telescope import DSA110

__all__ = [
    "JITTER_S",
    "MAX_ZENITH_ANGLE_DEG",
    "POLS",
    "GroupPlan",
    "RunConfig",
    "calibrator_position",
    "calibrator_start_mjd",
    "check_pointing",
    "parse_selection",
    "plan_groups",
    "plan_run",
    "predicted_image_noise_jy",
    "run_groups",
    "run_truth",
    "simulate_group",
    "simulate_groups",
]

log = logging.getLogger(__name__)

POLS = ("xx", "xy", "yx", "yy")
"""Polarisation order in the files (pyuvdata codes -5, -7, -8, -6)."""


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
        "noise_jy_per_vis": noise_sigma_jy(cfg.preset) if cfg.noise else 0.0,
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
    comps = components_in_group(cfg.sky, plan, cfg.dec_deg, cfg.preset.min_apparent_flux_mjy)
    rng = np.random.default_rng([cfg.seed, 11, plan.index])
    sigma = noise_sigma_jy(cfg.preset)
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
            data = corrupt_visibilities(
                v_sb, f_sb, a1, a2, auto, rng, sigma, sigma_auto,
                times_mjd=plan.times_mjd, noise=cfg.noise, instrument=cfg.instrument,
            )  # fmt: skip
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
    check_out_dir(Path(out_dir), "output directory")
    tdir = Path(truth_dir) if truth_dir is not None else Path(out_dir) / "truth"
    check_out_dir(tdir, "truth directory")
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
        "noise_jy_per_vis": noise_sigma_jy(cfg.preset),
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
