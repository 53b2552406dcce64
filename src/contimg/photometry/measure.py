"""Catalogue sources on an image and their forced photometry with primary-beam flags."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from contimg.config import PhotometrySettings
from contimg.db.engine import Databases
from contimg.imaging.fits import FitsImage
from contimg.science.beams import airy_power, angular_separation_rad
from contimg.science.confusion import confused_by_brighter
from contimg.science.flags import PhotFlag
from contimg.science.photometry import effective_beam_gain, forced_photometry, peak_fraction
from contimg.telescope import DSA110


@dataclass
class CatalogEntry:
    source_id: str
    ra_deg: float
    dec_deg: float
    nvss_flux_mjy: float | None
    is_reference: bool = False
    resolved: bool = False
    """The catalogue resolves it (``resolved_flag``: FIRST deconvolved major axis > 6")."""
    size: tuple[float, float, float] | None = None
    """FIRST deconvolved size: major, minor axes (arcsec), position angle (deg)."""


def catalog_sources_in_image(
    dbs: Databases, image: FitsImage, *, min_flux_mjy: float
) -> list[CatalogEntry]:
    """Catalog sources on the image above the flux limit, plus its final references."""
    from contimg.catalog.footprint import sources_in_image

    shape = (int(image.data.shape[0]), int(image.data.shape[1]))
    hits = sources_in_image(
        dbs.master_sources, wcs=image.wcs, shape=shape, min_flux_mjy=min_flux_mjy
    )
    refs = sources_in_image(
        dbs.master_sources, wcs=image.wcs, shape=shape, relation="final_references"
    )
    out: dict[str, CatalogEntry] = {}

    def entry_of(src: Any) -> CatalogEntry:
        size = (src.first_size_maj_arcsec, src.first_size_min_arcsec, src.first_size_pa_deg)
        return CatalogEntry(
            src.source_id, src.ra_deg, src.dec_deg, src.flux_mjy,
            resolved=src.resolved_flag == 1,
            size=None if size[0] is None else (size[0], size[1] or 0.0, size[2] or 0.0),
        )  # fmt: skip

    for src, _, _ in hits:
        out[src.source_id] = entry_of(src)
    for src, _, _ in refs:
        entry = out.setdefault(src.source_id, entry_of(src))
        entry.is_reference = True
    return sorted(out.values(), key=lambda e: e.source_id)


def _header_float(header: Any, key: str) -> float | None:
    try:
        value = float(header[key])
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def image_frequency_hz(image: FitsImage) -> float:
    """Reference frequency from the FITS spectral axis, else the band centre."""
    h = image.header
    for axis in range(1, int(h.get("NAXIS", 0)) + 1):
        if str(h.get(f"CTYPE{axis}", "")).upper().startswith("FREQ"):
            value = _header_float(h, f"CRVAL{axis}")
            if value:
                return value
    return DSA110.centre_freq_hz


def image_centre_deg(image: FitsImage) -> tuple[float, float]:
    ny, nx = image.data.shape
    ra, dec = image.wcs.all_pix2world([(nx - 1) / 2.0], [(ny - 1) / 2.0], 0)
    return float(ra[0]) % 360.0, float(dec[0])


# ---------------------------------------------------------------- measurement
@dataclass
class Measured:
    entries: list[CatalogEntry]
    raw: np.ndarray
    raw_err: np.ndarray
    flags: np.ndarray
    pb: np.ndarray
    sep_deg: np.ndarray


def measure(
    image: FitsImage, entries: Sequence[CatalogEntry], cfg: PhotometrySettings,
    *, sidelobe_level: float = 0.0,
) -> Measured:  # fmt: skip
    """Forced photometry of ``entries`` on ``image`` with primary-beam and confusion flags
    (``sidelobe_level``: the confusion test's; 0 turns its sidelobe part off)."""
    ra = np.array([e.ra_deg for e in entries], dtype=np.float64)
    dec = np.array([e.dec_deg for e in entries], dtype=np.float64)
    cra, cdec = image_centre_deg(image)
    pra = _header_float(image.header, "PBRA")
    pdec = _header_float(image.header, "PBDEC")
    if pra is None or pdec is None:
        pra, pdec = cra, cdec
    theta = angular_separation_rad(
        np.deg2rad(pra), np.deg2rad(pdec), np.deg2rad(ra), np.deg2rad(dec)
    )
    pb = airy_power(theta, image_frequency_hz(image), dish_diameter_m=DSA110.dish_diameter_m)
    sep = np.rad2deg(
        angular_separation_rad(np.deg2rad(cra), np.deg2rad(cdec), np.deg2rad(ra), np.deg2rad(dec))
    )
    res = forced_photometry(
        image.data, image.wcs, image.beam, ra, dec,
        pb_response=pb, pb_cut=cfg.pb_cut, blend_radius_beams=cfg.blend_radius_beams,
    )  # fmt: skip
    # Measured against the effective restored beam (CLEAN widens point sources a little).
    gain, _n = effective_beam_gain(
        image.data, image.wcs, image.beam, ra, dec,
        peak_jyb=res.peak_jyb, err_jyb=res.peak_err_jyb, flags=res.flags,
    )  # fmt: skip
    flags = res.flags.copy()
    # Catalogue fluxes (Jy) against the rms-map errors: both are primary-beam corrected
    # (a neighbour's sidelobes are divided by about the same beam response). A source is
    # compared by its expected peak in this image's beam, a neighbour by its flux.
    beam_deg = image.beam.major_arcsec / 3600.0
    flux = 1e-3 * np.array([e.nvss_flux_mjy or 0.0 for e in entries])
    size = np.array([e.size or (0.0, 0.0, 0.0) for e in entries], dtype=np.float64)
    size = size.reshape(len(entries), 3)
    confused = confused_by_brighter(
        ra, dec, flux,
        peak=flux * peak_fraction(image.beam, size[:, 0], size[:, 1], size[:, 2]),
        ratio=cfg.confusion_ratio, radius_deg=cfg.confusion_radius_beams * beam_deg,
        err=res.peak_err_jyb,
        sidelobe_level=sidelobe_level,
        sidelobe_radius_deg=cfg.sidelobe_radius_beams * beam_deg,
    )  # fmt: skip
    flags[confused] |= int(PhotFlag.CONFUSED)
    return Measured(list(entries), res.peak_jyb * gain, res.peak_err_jyb * gain, flags, pb, sep)
