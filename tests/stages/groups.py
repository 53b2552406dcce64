"""Small DSA-110-like UVH5 groups for stage tests (before/beside the simulator).

Visibilities are made by pyuvdata itself: for each point source a copy of the
data set is phased to the source (where the visibility is simply S g_i g_j^*),
then re-phased to the drift-scan centre (hour angle 0, fixed Dec) and summed.
That keeps the sign and w-term conventions exactly pyuvdata's.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy import units as u
from astropy.coordinates import EarthLocation
from astropy.time import Time
from astropy.utils import iers
from pyuvdata import Telescope, UVData

from contimg.telescope import DSA110

iers.conf.auto_download = False


@dataclass(frozen=True)
class PointSource:
    ra_deg: float
    dec_deg: float
    flux_jy: float


def t_layout_enu(n_ant: int, *, spacing_m: float = 40.0) -> np.ndarray:
    """A small T: half the antennas east-west, half north-south. Shape (n_ant, 3), metres."""
    n_ew = n_ant // 2 + n_ant % 2
    ew = [((i - n_ew // 2) * spacing_m * (1 + 0.13 * i), 0.0, 0.0) for i in range(n_ew)]
    ns = [(0.0, -(j + 1) * spacing_m * (1.1 + 0.17 * j), 0.0) for j in range(n_ant - n_ew)]
    return np.array(ew + ns, dtype=float)


def _telescope(n_ant: int) -> Telescope:
    site = DSA110.site
    loc = EarthLocation.from_geodetic(
        lon=site.lon_deg * u.deg, lat=site.lat_deg * u.deg, height=site.height_m * u.m
    )
    from pyuvdata.utils import ECEF_from_ENU

    enu = t_layout_enu(n_ant)
    ecef = ECEF_from_ENU(
        enu,
        latitude=np.radians(site.lat_deg),
        longitude=np.radians(site.lon_deg),
        altitude=site.height_m,
    )
    centre = np.array([loc.x.to_value(u.m), loc.y.to_value(u.m), loc.z.to_value(u.m)])
    return Telescope.new(
        name="DSA-110",
        instrument="DSA-110",
        feeds=["x", "y"],
        location=loc,
        antenna_positions=ecef - centre,
        antenna_names=[f"pad{i + 1}" for i in range(n_ant)],
        antenna_numbers=list(range(n_ant)),
        antenna_diameters=np.full(n_ant, DSA110.dish_diameter_m),
        x_orientation="east",
        mount_type="fixed",
    )


def write_group(*args: Any, **kwargs: Any) -> list[Path]:
    """See :func:`_write_group`; pyuvdata's set-up warnings are expected here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _write_group(*args, **kwargs)


def _write_group(
    directory: Path,
    *,
    start: Time,
    dec_deg: float,
    sources: list[PointSource],
    n_ant: int = 8,
    n_chan: int = 4,
    n_times: int = 6,
    gains: np.ndarray | None = None,
    noise_jy: float = 0.0,
    seed: int = 1,
    subbands: range = range(16),
    drift_at_zenith: bool = False,
) -> list[Path]:
    """Write one group of UVH5 files ``<ts>_sbNN.hdf5`` into ``directory``.

    ``gains``: complex, shape (n_ant,) or (n_ant, 16 * n_chan) (ascending frequency
    over the whole band), applied to both feeds. Returns the written paths.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tel = _telescope(n_ant)
    dt = DSA110.integration_s
    times = start.jd + (np.arange(n_times) + 0.5) * dt / 86400.0
    antpairs = [(i, j) for i in range(n_ant) for j in range(i, n_ant)]
    el_deg = 90.0 - abs(dec_deg - DSA110.site.lat_deg)
    az_deg = 0.0 if dec_deg >= DSA110.site.lat_deg else 180.0
    if drift_at_zenith:  # as the simulator writes them (and DSA-110: unprojected)
        el_deg, az_deg = 90.0, 0.0
    paths = []
    stamp = start.isot[:19]
    for sb in subbands:
        freqs = DSA110.subband_channel_freqs_hz(sb, n_chan)
        # ascending band index of this subband's channels
        band_lo = (DSA110.n_subbands - 1 - sb) * n_chan
        base = UVData.new(
            freq_array=freqs,
            polarization_array=["xx", "xy", "yx", "yy"],
            times=times,
            telescope=tel,
            antpairs=antpairs,
            do_blt_outer=True,
            integration_time=dt,
            channel_width=DSA110.subband_width_hz / n_chan,
            phase_center_catalog={
                0: {
                    "cat_name": "drift",
                    "cat_type": "driftscan",
                    "cat_lon": np.radians(az_deg),
                    "cat_lat": np.radians(el_deg),
                    "cat_frame": "altaz",
                }
            },
            phase_center_id_array=np.zeros(len(times) * len(antpairs), dtype=int),
            vis_units="Jy",
            empty=True,
        )
        total = np.zeros_like(base.data_array)
        a1, a2 = base.ant_1_array, base.ant_2_array
        for k, src in enumerate(sources):
            uv = base.copy()
            uv.phase(ra=np.radians(src.ra_deg), dec=np.radians(src.dec_deg), cat_name=f"s{k}")
            uv.data_array[:] = 0
            uv.data_array[:, :, 0] = src.flux_jy  # unpolarised: XX = YY = I
            uv.data_array[:, :, 3] = src.flux_jy
            uv.phase(
                lon=np.radians(az_deg),
                lat=np.radians(el_deg),
                cat_type="driftscan",
                phase_frame="altaz",
                cat_name="drift",
            )
            total += uv.data_array
            base.uvw_array = uv.uvw_array
            base.phase_center_app_ra = uv.phase_center_app_ra
            base.phase_center_app_dec = uv.phase_center_app_dec
            base.phase_center_frame_pa = uv.phase_center_frame_pa
        if gains is not None:
            g = np.asarray(gains)
            g = g[:, band_lo : band_lo + n_chan] if g.ndim == 2 else g[:, None] * np.ones(n_chan)
            gij = g[a1] * np.conj(g[a2])  # (nblt, n_chan)
            total *= gij[:, :, None]
        if noise_jy > 0:
            total += noise_jy * (
                rng.standard_normal(total.shape) + 1j * rng.standard_normal(total.shape)
            )
        auto = a1 == a2
        total[auto] = total[auto].real
        base.data_array = total
        base.extra_keywords = {"phase_center_dec": float(np.radians(dec_deg))}
        path = directory / f"{stamp}_sb{sb:02d}.hdf5"
        base.write_uvh5(str(path), clobber=True)
        paths.append(path)
    return paths
