"""Realistic synthetic inputs for mosaic tests and the benchmark.

Primary-beam-corrected FITS images as the imaging stage writes them (WSClean
3.1 layout: 4 axes RA/Dec/FREQ/STOKES on a SIN grid, RA reference value written
negative above 180 deg), at DSA-110-like drift-scan pointings (Dec fixed, RA
advancing by 309 s of sidereal time per group), with:

* noise correlated on the scale of the restoring beam (white noise convolved
  with the beam, scaled to an exact rms before primary-beam correction);
* point sources of known true flux, attenuated by the group's effective
  primary beam (the Airy beam averaged over the meridian pointings the sky
  drifts through during the group, as the imaging stage models it), then the
  whole image divided by that beam (pb-correction) and blanked below 0.2;
* the matching ``ms_index`` and ``images`` rows, written through the products
  Table objects (and optionally the ``ingest_queue`` row of the group).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS
from numpy.typing import NDArray
from sqlalchemy.engine import Connection

from contimg.db.ingest import ingest_queue
from contimg.db.products import images, ms_index
from contimg.science.mosaic import drift_offsets_deg, drift_scan_beam
from contimg.telescope import DSA110

SIDEREAL_DEG_PER_S = 360.98564736629 / 86_400.0
GROUP_S = DSA110.group_duration_s


@dataclass(frozen=True)
class SynthConfig:
    """Image geometry and noise of the synthetic groups."""

    n_px: int = 200
    cell_arcsec: float = 60.0
    beam_major_arcsec: float = 300.0
    beam_minor_arcsec: float = 180.0
    beam_pa_deg: float = 110.0
    freq_hz: float = 1.405e9
    rms_jy: float = 1.0e-3
    dec_deg: float = 54.57
    pb_cut: float = 0.2


@dataclass(frozen=True)
class Source:
    ra_deg: float
    dec_deg: float
    flux_jy: float


@dataclass
class SynthGroup:
    """One simulated group's image and its database facts."""

    group_id: str
    ms_path: str
    image_path: Path
    start_mjd: float
    mid_mjd: float
    end_mjd: float
    ra_deg: float
    dec_deg: float
    rms_jy: float
    config: SynthConfig = field(default_factory=SynthConfig)


def image_wcs(ra_deg: float, dec_deg: float, cfg: SynthConfig) -> WCS:
    """The 4-axis WSClean-like WCS of an image centred on the pointing."""
    w = WCS(naxis=4)
    w.wcs.ctype = ["RA---SIN", "DEC--SIN", "FREQ", "STOKES"]
    ra = ra_deg - 360.0 if ra_deg > 180.0 else ra_deg  # WSClean writes RA in (-180, 180]
    w.wcs.crval = [ra, dec_deg, cfg.freq_hz, 1.0]
    w.wcs.cdelt = [-cfg.cell_arcsec / 3600.0, cfg.cell_arcsec / 3600.0, 187.5e6, 1.0]
    w.wcs.crpix = [cfg.n_px / 2 + 1, cfg.n_px / 2 + 1, 1.0, 1.0]
    w.wcs.cunit = ["deg", "deg", "Hz", ""]
    w.wcs.radesys = "ICRS"
    w.wcs.equinox = 2000.0
    w.wcs.set()
    return w


def _beam_sigmas_px(cfg: SynthConfig) -> tuple[float, float, float]:
    k = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    return (
        cfg.beam_major_arcsec * k / cfg.cell_arcsec,
        cfg.beam_minor_arcsec * k / cfg.cell_arcsec,
        math.radians(cfg.beam_pa_deg),
    )


def beam_image(
    dx: NDArray[np.float64], dy: NDArray[np.float64], cfg: SynthConfig
) -> NDArray[np.float64]:
    """Restoring beam (peak 1) at pixel offsets ``dx`` (x = -RA) and ``dy`` (north).

    The major axis points at position angle PA, east of north: (-sin PA, cos PA).
    """
    s_maj, s_min, pa = _beam_sigmas_px(cfg)
    u = -dx * math.sin(pa) + dy * math.cos(pa)
    v = dx * math.cos(pa) + dy * math.sin(pa)
    return np.exp(-0.5 * (u / s_maj) ** 2 - 0.5 * (v / s_min) ** 2)


def correlated_noise(
    rng: np.random.Generator, shape: tuple[int, int], cfg: SynthConfig, rms_jy: float
) -> NDArray[np.float64]:
    """Gaussian noise of rms ``rms_jy`` correlated like the restoring beam."""
    n_y, n_x = shape
    fy = np.fft.fftfreq(n_y) * n_y
    fx = np.fft.fftfreq(n_x) * n_x
    dx, dy = np.meshgrid(fx, fy)
    kernel = beam_image(dx, dy, cfg)
    white = rng.standard_normal(shape)
    conv = np.real(np.fft.ifft2(np.fft.fft2(white) * np.fft.fft2(kernel)))
    return conv * (rms_jy / math.sqrt(float(np.sum(kernel**2))))


def drift_offsets() -> NDArray[np.float64]:
    """RA offsets of the meridian pointing over one group (start to end, mid = 0)."""
    half = 0.5 * GROUP_S / 86_400.0
    return drift_offsets_deg(start_mjd=-half, mid_mjd=0.0, end_mjd=half)


def beam_of(g: SynthGroup, ra_deg: NDArray[np.float64], dec_deg: NDArray[np.float64]) -> Any:
    """The effective primary beam of group ``g`` at sky positions."""
    return drift_scan_beam(
        ra_deg,
        dec_deg,
        pointing_ra_deg=g.ra_deg,
        pointing_dec_deg=g.dec_deg,
        ra_offsets_deg=drift_offsets(),
        freq_hz=g.config.freq_hz,
        dish_diameter_m=DSA110.dish_diameter_m,
    )


@functools.lru_cache(maxsize=8)
def _beam_plane(
    cfg: SynthConfig, dec_deg: float, offsets: tuple[float, ...]
) -> NDArray[np.float64]:
    w = image_wcs(0.0, dec_deg, cfg)
    n = cfg.n_px
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    zeros = np.zeros_like(xx)
    ra, dec, _, _ = w.wcs_pix2world(xx, yy, zeros, zeros, 0)
    return drift_scan_beam(
        ra,
        dec,
        pointing_ra_deg=0.0,
        pointing_dec_deg=dec_deg,
        ra_offsets_deg=np.array(offsets),
        freq_hz=cfg.freq_hz,
        dish_diameter_m=DSA110.dish_diameter_m,
    )


def group_id_at(mjd: float) -> str:
    return str(Time(mjd, format="mjd", scale="utc").isot)[:19]


def pointing_ra(ra0_deg: float, k: int) -> float:
    """RA of group ``k`` of a drift scan starting at ``ra0_deg``."""
    return float(np.mod(ra0_deg + k * GROUP_S * SIDEREAL_DEG_PER_S, 360.0))


def write_pbcor_image(
    path: Path,
    *,
    ra_deg: float,
    dec_deg: float,
    sources: Sequence[Source],
    rng: np.random.Generator,
    cfg: SynthConfig,
    rms_jy: float | None = None,
    ra_offsets_deg: NDArray[np.float64] | None = None,
) -> None:
    """Write one primary-beam-corrected WSClean-like FITS image.

    ``ra_offsets_deg``: drift of the meridian pointing over the group (default: the
    24 integrations' 309 s, sampled as the imaging stage samples them).
    """
    offsets = drift_offsets() if ra_offsets_deg is None else ra_offsets_deg
    rms = cfg.rms_jy if rms_jy is None else rms_jy
    w = image_wcs(ra_deg, dec_deg, cfg)
    n = cfg.n_px
    # The beam's pixel pattern does not depend on the pointing RA (pointing = CRVAL).
    pb = _beam_plane(cfg, dec_deg, tuple(np.round(offsets, 9)))
    apparent = correlated_noise(rng, (n, n), cfg, rms)
    if sources:
        s_ra = np.array([s.ra_deg for s in sources])
        s_dec = np.array([s.dec_deg for s in sources])
        ones = np.ones_like(s_ra)
        sx, sy, _, _ = w.wcs_world2pix(s_ra, s_dec, ones * cfg.freq_hz, ones, 0)
        inside = np.isfinite(sx) & (sx > -10) & (sx < n + 10) & (sy > -10) & (sy < n + 10)
        idx = np.flatnonzero(inside)
        att = drift_scan_beam(
            s_ra[idx],
            s_dec[idx],
            pointing_ra_deg=ra_deg,
            pointing_dec_deg=dec_deg,
            ra_offsets_deg=offsets,
            freq_hz=cfg.freq_hz,
            dish_diameter_m=DSA110.dish_diameter_m,
        )
        half = math.ceil(4 * cfg.beam_major_arcsec / cfg.cell_arcsec) + 1
        for i, a in zip(idx, np.atleast_1d(att), strict=True):
            x0, y0 = float(sx[i]), float(sy[i])
            xa, xb = max(0, int(x0) - half), min(n, int(x0) + half + 1)
            ya, yb = max(0, int(y0) - half), min(n, int(y0) + half + 1)
            if xa >= xb or ya >= yb:
                continue
            cy, cx = np.mgrid[ya:yb, xa:xb].astype(np.float64)
            apparent[ya:yb, xa:xb] += sources[i].flux_jy * a * beam_image(cx - x0, cy - y0, cfg)
    pbcor = np.where(pb >= cfg.pb_cut, apparent / pb, np.nan).astype(np.float32)
    header = w.to_header()
    header["BMAJ"] = cfg.beam_major_arcsec / 3600.0
    header["BMIN"] = cfg.beam_minor_arcsec / 3600.0
    header["BPA"] = cfg.beam_pa_deg
    header["BUNIT"] = "JY/BEAM"
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(data=pbcor[np.newaxis, np.newaxis], header=header).writeto(path, overwrite=True)


def drift_groups(
    root: Path,
    *,
    start_mjd: float,
    n_groups: int,
    ra0_deg: float,
    sources: Sequence[Source],
    seed: int,
    cfg: SynthConfig | None = None,
    same_pointing: bool = False,
    rms_scale: Sequence[float] | None = None,
) -> list[SynthGroup]:
    """Write ``n_groups`` consecutive groups' pbcor images; return their facts.

    ``same_pointing`` repeats the first pointing (e.g. the same LST on several
    days) instead of drifting; ``rms_scale`` multiplies each group's noise.
    """
    cfg = cfg or SynthConfig()
    rng = np.random.default_rng(seed)
    groups = []
    for k in range(n_groups):
        start = start_mjd + k * GROUP_S / 86_400.0
        gid = group_id_at(start)
        ra = pointing_ra(ra0_deg, 0 if same_pointing else k)
        rms = cfg.rms_jy * (1.0 if rms_scale is None else rms_scale[k])
        path = root / f"{gid.replace(':', '')}-pbcor.fits"
        write_pbcor_image(
            path, ra_deg=ra, dec_deg=cfg.dec_deg, sources=sources, rng=rng, cfg=cfg, rms_jy=rms
        )
        groups.append(
            SynthGroup(
                group_id=gid,
                ms_path=str(root / f"{gid}.ms"),
                image_path=path,
                start_mjd=start,
                mid_mjd=start + 0.5 * GROUP_S / 86_400.0,
                end_mjd=start + GROUP_S / 86_400.0,
                ra_deg=ra,
                dec_deg=cfg.dec_deg,
                rms_jy=rms,
                config=cfg,
            )
        )
    return groups


def record_groups(conn: Connection, groups: Sequence[SynthGroup], *, now: float = 1.8e9) -> None:
    """Write the ``ms_index`` and ``images`` (type 'pbcor') rows of ``groups``."""
    for g in groups:
        cfg = g.config
        conn.execute(
            ms_index.insert().values(
                path=g.ms_path,
                start_mjd=g.start_mjd,
                end_mjd=g.end_mjd,
                mid_mjd=g.mid_mjd,
                processed_at=now,
                status="ok",
                stage="imaged",
                stage_updated_at=now,
                cal_applied=1,
                imagename=str(g.image_path),
                field_name=f"drift_{g.group_id}",
                pointing_ra_deg=g.ra_deg,
                pointing_dec_deg=g.dec_deg,
            )
        )
        conn.execute(
            images.insert().values(
                path=str(g.image_path),
                ms_path=g.ms_path,
                created_at=now,
                type="pbcor",
                format="fits",
                beam_major_arcsec=cfg.beam_major_arcsec,
                beam_minor_arcsec=cfg.beam_minor_arcsec,
                beam_pa_deg=cfg.beam_pa_deg,
                noise_jy=g.rms_jy,
                dynamic_range=100.0,
                pbcor=1,
                field_name=f"drift_{g.group_id}",
                center_ra_deg=g.ra_deg,
                center_dec_deg=g.dec_deg,
                imsize_x=cfg.n_px,
                imsize_y=cfg.n_px,
                cellsize_arcsec=cfg.cell_arcsec,
                freq_ghz=cfg.freq_hz / 1e9,
                bandwidth_mhz=187.5,
                integration_sec=GROUP_S,
            )
        )


def record_queue(
    conn: Connection, groups: Sequence[SynthGroup], *, state: str, received_at: float
) -> None:
    """Write the ``ingest_queue`` rows of ``groups`` in ``state``."""
    for g in groups:
        conn.execute(
            ingest_queue.insert().values(
                group_id=g.group_id,
                state=state,
                received_at=received_at,
                last_update=received_at,
                expected_subbands=16,
            )
        )


def fit_peak(
    data: NDArray[np.floating], x0: float, y0: float, *, half_px: int = 8
) -> tuple[float, float, float]:
    """Peak, x and y of a free 2-D elliptical Gaussian (plus offset) fitted near ``(x0, y0)``."""
    from scipy.optimize import least_squares

    xi, yi = round(x0), round(y0)
    cut = np.asarray(data[yi - half_px : yi + half_px + 1, xi - half_px : xi + half_px + 1])
    yy, xx = np.mgrid[yi - half_px : yi + half_px + 1, xi - half_px : xi + half_px + 1]
    ok = np.isfinite(cut)

    def model(p: NDArray[np.float64]) -> NDArray[np.float64]:
        amp, cx, cy, sa, sb, th, off = p
        dx, dy = xx - cx, yy - cy
        u = dx * math.cos(th) + dy * math.sin(th)
        v = -dx * math.sin(th) + dy * math.cos(th)
        return amp * np.exp(-0.5 * (u / sa) ** 2 - 0.5 * (v / sb) ** 2) + off

    def resid(p: NDArray[np.float64]) -> NDArray[np.float64]:
        return (model(p) - cut)[ok]

    start = np.array([float(np.nanmax(cut)), x0, y0, 2.0, 1.5, 0.0, 0.0])
    fit = least_squares(resid, start)
    return float(fit.x[0]), float(fit.x[1]), float(fit.x[2])
