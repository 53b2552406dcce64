"""Synthetic radio images for photometry tests and benchmarks: a rotated SIN WCS,
noise correlated exactly with the restoring beam, and injected point sources."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.wcs import WCS
from numpy.typing import NDArray

from contimg.science.photometry import Beam, pixel_beam_covariance


def rotated_wcs(
    *, n_pix: int, cell_arcsec: float, ra_deg: float, dec_deg: float, rot_deg: float
) -> WCS:
    """A SIN-projection WCS whose pixel axes are rotated by ``rot_deg`` from north (CD matrix)."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    w.wcs.crval = [ra_deg, dec_deg]
    w.wcs.crpix = [n_pix / 2 + 1, n_pix / 2 + 1]
    c, s = np.cos(np.deg2rad(rot_deg)), np.sin(np.deg2rad(rot_deg))
    scale = cell_arcsec / 3600.0
    w.wcs.cd = scale * np.array([[-c, s], [s, c]])
    w.wcs.set()
    return w


def correlated_noise(
    shape: tuple[int, int], cov_pix: NDArray[np.float64], rng: np.random.Generator
) -> NDArray[np.float64]:
    """Unit-rms Gaussian noise whose autocorrelation is the beam of covariance ``cov_pix``."""
    ny, nx = shape
    white = rng.standard_normal(shape)
    ky = np.fft.fftfreq(ny) * 2 * np.pi
    kx = np.fft.rfftfreq(nx) * 2 * np.pi
    kyy, kxx = np.meshgrid(ky, kx, indexing="ij")
    # Kernel of covariance cov/2: autocorrelation of the filtered noise has covariance cov.
    half = cov_pix / 2.0
    q = half[0, 0] * kxx**2 + 2 * half[0, 1] * kxx * kyy + half[1, 1] * kyy**2
    noise = np.fft.irfft2(np.fft.rfft2(white) * np.exp(-0.5 * q), s=shape)
    return np.asarray(noise / noise.std())


@dataclass
class SynthImage:
    data: NDArray[np.float32]
    wcs: WCS
    beam: Beam
    ra_deg: NDArray[np.float64]
    dec_deg: NDArray[np.float64]
    true_jyb: NDArray[np.float64]
    rms_true: NDArray[np.float64]
    """Noise rms at each source position."""


def make_image(
    *,
    n_pix: int = 1024,
    cell_arcsec: float = 3.0,
    beam: Beam | None = None,
    rot_deg: float = 25.0,
    ra_deg: float = 150.0,
    dec_deg: float = 40.0,
    rms_jyb: float = 1e-3,
    rms_gradient: float = 1.0,
    positions_px: NDArray[np.float64] | None = None,
    fluxes_jyb: NDArray[np.float64] | None = None,
    n_sources: int = 0,
    seed: int = 0,
) -> SynthImage:
    """Noise (rms growing by ``rms_gradient`` across x) plus point sources of known flux.

    Without ``positions_px``, ``n_sources`` isolated sources on a jittered grid.
    """
    rng = np.random.default_rng(seed)
    beam = beam or Beam(major_arcsec=14.0, minor_arcsec=9.0, pa_deg=35.0)
    wcs = rotated_wcs(
        n_pix=n_pix, cell_arcsec=cell_arcsec, ra_deg=ra_deg, dec_deg=dec_deg, rot_deg=rot_deg
    )
    centre = wcs.all_pix2world([(n_pix - 1) / 2], [(n_pix - 1) / 2], 0)
    _, _, cov_c = pixel_beam_covariance(wcs, beam, centre[0], centre[1])
    noise = correlated_noise((n_pix, n_pix), cov_c[0], rng)
    xs = np.arange(n_pix)
    scale = rms_jyb * (1.0 + (rms_gradient - 1.0) * xs / (n_pix - 1))
    img = noise * scale[None, :]
    if positions_px is None:
        side = int(np.ceil(np.sqrt(n_sources)))
        margin = 20.0
        step = (n_pix - 2 * margin) / side
        gy, gx = np.mgrid[0:side, 0:side]
        px = margin + (gx.ravel() + 0.5) * step + rng.uniform(-0.2, 0.2, side * side) * step
        py = margin + (gy.ravel() + 0.5) * step + rng.uniform(-0.2, 0.2, side * side) * step
        positions_px = np.column_stack([px, py])[:n_sources]
    positions_px = np.asarray(positions_px, dtype=np.float64)
    n = len(positions_px)
    if fluxes_jyb is None:
        fluxes_jyb = rng.uniform(5, 50, n) * rms_jyb
    fluxes = np.asarray(fluxes_jyb, dtype=np.float64)
    ra, dec = wcs.all_pix2world(positions_px[:, 0], positions_px[:, 1], 0)
    _, _, cov = pixel_beam_covariance(wcs, beam, ra, dec)
    icov = np.linalg.inv(cov)
    half = int(np.ceil(6 * np.sqrt(np.max(np.linalg.eigvalsh(cov_c[0])))))
    for k in range(n):
        x0, y0 = positions_px[k]
        ix, iy = round(float(x0)), round(float(y0))
        ys = slice(max(iy - half, 0), min(iy + half + 1, n_pix))
        xs_ = slice(max(ix - half, 0), min(ix + half + 1, n_pix))
        yy, xx = np.mgrid[ys, xs_]
        dx, dy = xx - x0, yy - y0
        ic = icov[k]
        q = ic[0, 0] * dx * dx + 2 * ic[0, 1] * dx * dy + ic[1, 1] * dy * dy
        img[ys, xs_] += fluxes[k] * np.exp(-0.5 * q)
    rms_at = rms_jyb * (1.0 + (rms_gradient - 1.0) * positions_px[:, 0] / (n_pix - 1))
    return SynthImage(
        data=img.astype(np.float32),
        wcs=wcs,
        beam=beam,
        ra_deg=np.asarray(ra),
        dec_deg=np.asarray(dec),
        true_jyb=fluxes,
        rms_true=rms_at,
    )
