"""A CLEAN mask of the catalogue's sources (``imaging.clean_mask = "catalog"``; the image
stage, :func:`contimg.stages.image.write_catalog_mask`, gives it the catalogue).

With 24 antennas and five minutes the PSF's sidelobes are high and many sets of CLEAN
components fit a dirty image about equally well; CLEAN's automatic mask then places
some on sidelobes, and which set it finds changes with details as small as the image
size (a source's restored peak moved by 1.47 % rms between 3072 and 3080 px images of
the same data). DSA-110 images a sky the catalogue already knows: cleaning only around
catalogued sources keeps the components where the flux is. On 8 epochs of one pointing
of the science benchmark, bright constant sources scattered by 0.66 % from epoch to
epoch (after the image-wide part) instead of 0.98 %, and the image-wide part fell from
1.08 % to 0.36 % (docs/photometry.md, "The flux error each pointing gives a source").

A source missing from the catalogue (a new transient) is not cleaned; its flux stays
in the residual, which the restored image keeps, so its peak is still measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.io import fits

from contimg.config import ImagingSettings
from contimg.errors import ContimgError
from contimg.imaging.wsclean import grid_for
from contimg.science.beams import primary_beam_at
from contimg.science.image import celestial_wcs
from contimg.telescope import DSA110


def phase_centre_deg(ms_path: Path) -> tuple[float, float]:
    """(RA, Dec) in degrees of the first field's phase centre (``FIELD::PHASE_DIR``)."""
    from casacore.tables import table

    try:
        with table(str(ms_path / "FIELD"), ack=False) as t:
            direction = np.asarray(t.getcol("PHASE_DIR"), dtype=np.float64)
    except RuntimeError as exc:
        raise ContimgError(f"{ms_path}: cannot read the phase centre (FIELD table): {exc}") from exc
    ra, dec = np.degrees(direction.reshape(-1, 2)[0])
    return float(ra % 360.0), float(dec)


def mask_header(*, ra_deg: float, dec_deg: float, size_px: int, cell_arcsec: float) -> fits.Header:
    """The grid WSClean images onto: SIN about the phase centre, reference pixel
    ``size / 2 + 1`` (FITS, 1-based), RA increasing to the left; four axes like its images."""
    h = fits.Header()
    h["NAXIS"] = 4
    for k, n in enumerate((size_px, size_px, 1, 1), start=1):
        h[f"NAXIS{k}"] = n
    for k, (ctype, crpix, crval, cdelt, cunit) in enumerate(
        (
            ("RA---SIN", size_px // 2 + 1, ra_deg, -cell_arcsec / 3600.0, "deg"),
            ("DEC--SIN", size_px // 2 + 1, dec_deg, cell_arcsec / 3600.0, "deg"),
            ("FREQ", 1, DSA110.centre_freq_hz, 1.0, "Hz"),
            ("STOKES", 1, 1.0, 1.0, ""),
        ),
        start=1,
    ):
        h[f"CTYPE{k}"], h[f"CRPIX{k}"], h[f"CRVAL{k}"] = ctype, float(crpix), crval
        h[f"CDELT{k}"] = cdelt
        if cunit:
            h[f"CUNIT{k}"] = cunit
    h["RADESYS"], h["EQUINOX"] = "ICRS", 2000.0
    return h


def ms_mask_header(ms_path: Path, settings: ImagingSettings) -> fits.Header:
    """:func:`mask_header` of the image WSClean makes of ``ms_path`` with ``settings``."""
    size, cell = grid_for(settings)
    ra0, dec0 = phase_centre_deg(ms_path)
    return mask_header(ra_deg=ra0, dec_deg=dec0, size_px=size, cell_arcsec=cell)


def write_mask(
    header: fits.Header,
    settings: ImagingSettings,
    *,
    pointings: Sequence[tuple[float, float]],
    out: Path,
    ra_deg: Sequence[float],
    dec_deg: Sequence[float],
    flux_mjy: Sequence[float],
    major_arcsec: Sequence[float],
) -> int:
    """Write a CLEAN mask on the grid ``header`` (:func:`mask_header`) to ``out``: discs of
    ``clean_mask_radius_arcsec`` (plus half the source's major axis) around every source
    whose apparent flux (``flux_mjy`` x the Airy power averaged over ``pointings``) is at
    least ``clean_mask_min_apparent_mjy``. Returns how many sources it holds; 0 writes
    nothing."""
    if len(ra_deg) == 0:
        return 0
    size = int(header["NAXIS1"])
    cell = abs(float(header["CDELT2"])) * 3600.0
    ra = np.asarray(ra_deg, dtype=np.float64)
    dec = np.asarray(dec_deg, dtype=np.float64)
    beam = np.zeros(ra.size)
    for pra, pdec in pointings:
        beam += primary_beam_at(
            ra, dec, pointing_ra_deg=pra, pointing_dec_deg=pdec,
            freq_hz=DSA110.centre_freq_hz, dish_diameter_m=DSA110.dish_diameter_m,
        )  # fmt: skip
    beam /= max(len(pointings), 1)
    keep = np.asarray(flux_mjy, dtype=np.float64) * beam >= settings.clean_mask_min_apparent_mjy
    if not keep.any():
        return 0
    wcs = celestial_wcs(header)
    x, y = wcs.all_world2pix(np.c_[ra[keep], dec[keep]], 0).T
    major = np.nan_to_num(np.asarray(major_arcsec, dtype=np.float64)[keep])
    radius_px = (settings.clean_mask_radius_arcsec + 0.5 * major) / cell
    mask = np.zeros((size, size), dtype=np.float32)
    for xi, yi, ri in zip(x, y, radius_px, strict=True):
        r, cx, cy = int(np.ceil(ri)), round(float(xi)), round(float(yi))
        x0, x1 = max(cx - r, 0), min(cx + r + 1, size)
        y0, y1 = max(cy - r, 0), min(cy + r + 1, size)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        box = mask[y0:y1, x0:x1]
        box[np.hypot(xx - xi, yy - yi) <= ri] = 1.0
    fits.writeto(out, mask[None, None], header, overwrite=True)
    return int(keep.sum())
