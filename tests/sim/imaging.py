"""Helpers of the simulator's proof test: group -> MS -> WSClean -> pb-corrected image.

Only real tools: pyuvdata reads the UVH5 files and writes the Measurement Set,
WSClean images it, and the Airy model of ``contimg.science.beams`` corrects it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from contimg.science.beams import primary_beam_at
from contimg.sim import astro
from contimg.sim.instrument import InstrumentModel
from contimg.telescope import DSA110

WSCLEAN = "/usr/bin/wsclean"


def group_to_ms(
    files: list[Path], ms_path: Path, *, truth: dict[str, Any], run: dict[str, Any]
) -> Any:
    """Read a group, undo the true antenna corruptions, phase to the pointing, write an MS."""
    from astropy.time import Time
    from pyuvdata import UVData

    astro.configure_iers()
    uv = UVData.from_file([str(f) for f in files], file_type="uvh5")
    uv.reorder_freqs(channel_order="freq")
    uv.select(ant_str="cross")
    inst = InstrumentModel.from_dict(run["instrument"])
    times = np.unique(uv.time_array)
    mjd = Time(times, format="jd").mjd
    jones = inst.jones(mjd, uv.freq_array)  # (t, ant, 2, chan)
    t_idx = np.searchsorted(times, uv.time_array)
    feeds = {-5: (0, 0), -7: (0, 1), -8: (1, 0), -6: (1, 1)}
    for ip, pol in enumerate(uv.polarization_array):
        fp, fq = feeds[int(pol)]
        corr = np.conj(jones[t_idx, uv.ant_1_array, fp, :]) * jones[t_idx, uv.ant_2_array, fq, :]
        uv.data_array[:, :, ip] /= corr
    uv.phase(
        ra=np.radians(truth["pointing_ra_deg"]),
        dec=np.radians(truth["pointing_dec_deg"]),
        epoch="J2000",
        cat_name=f"drift_{truth['group_id']}",
    )
    uv.write_ms(str(ms_path), clobber=True)
    return uv


def wsclean(ms_path: Path, prefix: Path, *, size: int, scale_arcsec: float) -> Path:
    """Image Stokes I with WSClean (natural weighting, auto-masked clean)."""
    cmd = [
        WSCLEAN, "-quiet", "-j", "2", "-use-wgridder", "-size", str(size), str(size),
        "-scale", f"{scale_arcsec}asec", "-weight", "natural", "-pol", "I",
        "-niter", "20000", "-mgain", "0.8", "-auto-mask", "3", "-auto-threshold", "0.5",
        "-no-update-model-required", "-name", str(prefix), str(ms_path),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=900)
    return Path(f"{prefix}-image.fits")


def mean_beam(
    ra_deg: NDArray[np.float64], dec_deg: NDArray[np.float64], truth: dict[str, Any]
) -> NDArray[np.float64]:
    """Airy power averaged over the group's 24 pointings and its band (16 subbands)."""
    freqs = [float(DSA110.subband_channel_freqs_hz(sb, 1)[0]) for sb in range(DSA110.n_subbands)]
    acc = np.zeros(np.shape(ra_deg))
    n = 0
    for t in truth["times_mjd"][::3]:
        pra, pdec = astro.icrs_of_pointing(t, truth["pointing_app_dec_deg"])
        for f in freqs[::3]:
            acc += primary_beam_at(
                ra_deg, dec_deg, pointing_ra_deg=pra, pointing_dec_deg=pdec, freq_hz=f,
                dish_diameter_m=DSA110.dish_diameter_m,
            )  # fmt: skip
            n += 1
    return acc / n


def fit_point(
    image: NDArray[np.float64], x0: float, y0: float, beam_pix: tuple[float, float, float]
) -> tuple[float, float, float]:
    """Fit a beam-shaped Gaussian near pixel (x0, y0): peak, x, y (pixels)."""
    from scipy.optimize import least_squares

    bmaj, bmin, bpa = beam_pix  # FWHM pixels, pa radians (from +y towards -x)
    half = int(np.ceil(bmaj))
    xi, yi = round(x0), round(y0)
    cut = image[yi - half : yi + half + 1, xi - half : xi + half + 1]
    yy, xx = np.mgrid[yi - half : yi + half + 1, xi - half : xi + half + 1]
    sa, sb = bmaj / 2.3548, bmin / 2.3548

    def model(p: NDArray[np.float64]) -> NDArray[np.float64]:
        dx, dy = xx - p[1], yy - p[2]
        # Major axis direction: PA east of north; east is -x in a standard image.
        ca, sn = np.cos(bpa), np.sin(bpa)
        a = -dx * sn + dy * ca
        b = dx * ca + dy * sn
        return np.asarray(p[0] * np.exp(-0.5 * ((a / sa) ** 2 + (b / sb) ** 2)) + p[3])

    p0 = np.array([float(image[yi, xi]), float(xi), float(yi), 0.0])
    res = least_squares(lambda p: (model(p) - cut).ravel(), p0)
    return float(res.x[0]), float(res.x[1]), float(res.x[2])
