"""Build one mosaic: pick the window's pbcor images, resample them one at a time
onto a common grid, accumulate with inverse-variance weights, and write the
mosaic FITS, its noise map, a PNG thumbnail and the ``mosaics`` row.

Memory is bounded by the output grid (8 bytes a pixel for the running sums, and
4 more while islands are counted) plus ONE input at a time: inputs are never
held together. Files are written under temporary names and renamed, and the row
is written last, so an interrupted build leaves no half-written product and
nothing already stored is lost.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from numpy.typing import NDArray
from sqlalchemy.engine import Connection

from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.queries import mosaics as q
from contimg.errors import ContimgError
from contimg.mosaic.inputs import ImageGeometry, read_geometry, read_input
from contimg.science import mosaic as mm
from contimg.science.stretch import render_png
from contimg.telescope import DSA110

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class MosaicProducts:
    """What a build produced."""

    mosaic_id: int
    row: dict[str, Any]
    noise_path: Path
    timings_s: dict[str, float]


def mjd_to_iso(mjd: float) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` (UTC) of an MJD."""
    from astropy.time import Time

    return str(Time(mjd, format="mjd", scale="utc").isot)[:19]


def _duration_label(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def default_name(
    *, start_mjd: float, end_mjd: float, dec_min_deg: float | None, dec_max_deg: float | None
) -> str:
    """``<start ISO>_<length>[_dec<lo>..<hi>]``, e.g. ``2026-11-25T17:00:00_1h``."""
    length = _duration_label(round((end_mjd - start_mjd) * SECONDS_PER_DAY))
    name = f"{mjd_to_iso(start_mjd)}_{length}"
    if dec_min_deg is not None or dec_max_deg is not None:
        lo = "" if dec_min_deg is None else f"{dec_min_deg:+.1f}"
        hi = "" if dec_max_deg is None else f"{dec_max_deg:+.1f}"
        name += f"_dec{lo}..{hi}"
    return name


def file_stem(name: str) -> str:
    """A file-name-safe stem for a mosaic name (``:`` dropped, other odd characters -> ``-``)."""
    stem = re.sub(r"[^A-Za-z0-9._+-]+", "-", name.replace(":", "")).strip("-.")
    if not stem:
        raise ContimgError(f"mosaic name {name!r} has no usable characters for a file name")
    return stem


def mosaic_paths(settings: Settings, name: str) -> tuple[Path, Path, Path]:
    """Mosaic FITS, noise-map FITS and thumbnail PNG paths of a mosaic called ``name``."""
    root = settings.products_path / "mosaics"
    stem = file_stem(name)
    return root / f"{stem}.fits", root / f"{stem}.noise.fits", root / f"{stem}.png"


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _check_input(img: q.InputImage) -> None:
    problems = []
    if img.noise_jy is None or not (img.noise_jy > 0 and math.isfinite(img.noise_jy)):
        problems.append(f"noise_jy={img.noise_jy!r}")
    if img.pointing_ra_deg is None or img.pointing_dec_deg is None:
        problems.append("no pointing (ms_index pointing_ra_deg/pointing_dec_deg)")
    if problems:
        raise ContimgError(
            f"image {img.path} (MS {img.ms_path}) cannot be weighted: {'; '.join(problems)}. "
            "Re-image it or leave it out with --dec-min/--dec-max or another window."
        )


def _has_beam(img: q.InputImage) -> bool:
    return bool(img.beam_major_arcsec and img.beam_minor_arcsec and img.beam_pa_deg is not None)


def _freq_hz(img: q.InputImage, geometry: ImageGeometry) -> float:
    if img.freq_ghz is not None and img.freq_ghz > 0:
        return float(img.freq_ghz) * 1e9
    if geometry.freq_hz is not None and geometry.freq_hz > 0:
        return geometry.freq_hz
    return DSA110.centre_freq_hz


class BeamPlanes:
    """The effective primary beam of input images on their own pixel grids.

    The imaging stage divides each image by the Airy beam averaged over the
    group's drifting meridian pointings (:func:`contimg.science.mosaic.drift_scan_beam`);
    the same beam gives the weights here. Images of one imaging setup share the
    beam's pixel pattern (same grid relative to the pointing, same Dec, frequency
    and drift), so planes are cached on those quantities.
    """

    def __init__(self, max_cached: int = 4) -> None:
        self._cache: dict[tuple[Any, ...], NDArray[np.float64]] = {}
        self._max = max_cached
        self.computed = 0

    def plane(self, img: q.InputImage, geometry: ImageGeometry) -> NDArray[np.float64]:
        """Beam response at every pixel of ``img``, shape ``(n_y, n_x)``."""
        assert img.pointing_ra_deg is not None and img.pointing_dec_deg is not None
        freq_hz = _freq_hz(img, geometry)
        if img.start_mjd is not None and img.end_mjd is not None:
            offsets = mm.drift_offsets_deg(
                start_mjd=img.start_mjd, mid_mjd=img.mid_mjd, end_mjd=img.end_mjd
            )
        else:
            offsets = np.zeros(1)
        w = geometry.wcs.wcs
        key = (
            geometry.shape,
            tuple(np.round(w.cdelt, 12)),
            tuple(np.round(w.crpix, 6)),
            tuple(w.ctype),
            tuple(np.round(w.get_pc().ravel(), 12)),
            round(float(w.crval[1]), 6),
            round((float(img.pointing_ra_deg) - float(w.crval[0]) + 180.0) % 360.0 - 180.0, 6),
            round(float(img.pointing_dec_deg), 6),
            round(freq_hz, 0),
            tuple(np.round(offsets, 6)),
        )
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        n_y, n_x = geometry.shape
        yy, xx = np.mgrid[0:n_y, 0:n_x]
        ra, dec = geometry.wcs.wcs_pix2world(xx.astype(np.float64), yy.astype(np.float64), 0)
        pb = mm.drift_scan_beam(
            ra,
            dec,
            pointing_ra_deg=float(img.pointing_ra_deg),
            pointing_dec_deg=float(img.pointing_dec_deg),
            ra_offsets_deg=offsets,
            freq_hz=freq_hz,
            dish_diameter_m=DSA110.dish_diameter_m,
        )
        self.computed += 1
        if len(self._cache) >= self._max:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = pb
        return pb


def resample_onto(
    data: NDArray[np.float64],
    pb: NDArray[np.float64],
    geometry: ImageGeometry,
    grid: mm.MosaicGrid,
    box: mm.Box,
    *,
    pb_min: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Resample one pb-corrected image and its beam onto ``box`` of the grid.

    Bicubic interpolation (``reproject``) of the image (blanks set to 0), of its
    finite-pixel mask and of the primary beam, in one call (the coordinate
    transform is computed once). Pixels near a blank (mask < 0.999), outside the
    input, or below ``pb_min`` come back NaN / 0.

    Returns
    -------
    image, pb : numpy.ndarray
        Shape ``box.shape``; ``image`` NaN where invalid, ``pb`` 0 there.
    """
    from reproject import reproject_interp

    finite = np.isfinite(data)
    stack = np.stack([np.where(finite, data, 0.0), finite.astype(np.float64), pb])
    out = reproject_interp(
        (stack, geometry.wcs),
        grid.box_wcs(box),
        shape_out=(3, *box.shape),
        order="bicubic",
        return_footprint=False,
        # Boxes come from the input's own footprint, so no output pixel maps through
        # the far side of the input's projection: the round-trip check is not needed.
        roundtrip_coords=False,
    )
    img_o, fin_o, pb_o = out[0], out[1], out[2]
    valid = np.isfinite(img_o) & (fin_o > 0.999) & np.isfinite(pb_o) & (pb_o >= pb_min)
    return np.where(valid, img_o, np.nan), np.where(valid, pb_o, 0.0)


def _fits_header(grid: mm.MosaicGrid, extra: dict[str, Any]) -> fits.Header:
    header = grid.wcs.to_header()
    for key, value in extra.items():
        header[key] = value
    return header


def default_cell_deg(inputs: Sequence[q.InputImage], geometries: Sequence[ImageGeometry]) -> float:
    """The mosaic's pixel: a third of the sharpest restoring beam's minor axis, never
    finer than the finest input cell.

    A restored image is smooth on the beam's scale, so three pixels across its minor
    axis resample it faithfully, while the inputs' own cells can be finer than that
    (WSClean needs fine cells for CLEAN's components to sit where the sources are; it
    is not needed after restoring). A day's mosaic on the inputs' 3" cells would need
    four times the memory of 6" ones.
    """
    finest = min(float(np.min(np.abs(g.wcs.wcs.cdelt))) for g in geometries)
    minors = [float(img.beam_minor_arcsec) for img in inputs if img.beam_minor_arcsec]
    if not minors:
        return finest
    return max(finest, min(minors) / 3.0 / 3600.0)


def build_mosaic(
    settings: Settings,
    dbs: Databases,
    *,
    start_mjd: float,
    end_mjd: float,
    dec_min_deg: float | None = None,
    dec_max_deg: float | None = None,
    name: str | None = None,
    replace: bool = False,
    progress: Callable[[str], None] | None = None,
    on_saved: Callable[[Connection, dict[str, Any]], None] | None = None,
) -> MosaicProducts:
    """Build the mosaic of the 'pbcor' images observed in ``[start_mjd, end_mjd)``.

    Parameters
    ----------
    settings, dbs
        Deployment settings (``settings.mosaic``) and databases.
    start_mjd, end_mjd : float
        Window (UTC MJD) on the images' observation mid-times.
    dec_min_deg, dec_max_deg : float, optional
        Keep only images whose pointing Dec lies in this range (inclusive).
    name : str, optional
        Mosaic name (also the file stem); default from the window.
    replace : bool
        Rebuild a mosaic of the same name (its row is updated, files replaced).
    progress : callable, optional
        Receives one line per step.
    on_saved : callable, optional
        Called with the connection and the row inside the transaction that saves
        the row (the scheduler records the window's outcome atomically with it).

    Raises
    ------
    ContimgError
        Empty window, an existing mosaic without ``replace``, or an unusable input.
    """
    say = progress or (lambda msg: log.info("%s", msg))
    cfg = settings.mosaic
    if not end_mjd > start_mjd:
        raise ContimgError(
            f"the window must end after it starts (start {mjd_to_iso(start_mjd)}, "
            f"end {mjd_to_iso(end_mjd)})"
        )
    if dec_min_deg is not None and dec_max_deg is not None and dec_max_deg < dec_min_deg:
        raise ContimgError(f"--dec-max {dec_max_deg} is below --dec-min {dec_min_deg}")
    name = name or default_name(
        start_mjd=start_mjd, end_mjd=end_mjd, dec_min_deg=dec_min_deg, dec_max_deg=dec_max_deg
    )
    path, noise_path, png_path = mosaic_paths(settings, name)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    with dbs.products.read() as conn:
        existing = q.get_mosaic(conn, path=str(path))
        inputs = q.select_input_images(
            conn,
            start_mjd=start_mjd,
            end_mjd=end_mjd,
            dec_min_deg=dec_min_deg,
            dec_max_deg=dec_max_deg,
        )
    if existing is not None and not replace:
        raise ContimgError(
            f"mosaic {name!r} already exists ({path}); use --replace to rebuild it "
            "or --name to choose another name"
        )
    if not inputs:
        dec_txt = (
            ""
            if dec_min_deg is None and dec_max_deg is None
            else f" with pointing Dec in [{dec_min_deg}, {dec_max_deg}]"
        )
        raise ContimgError(
            f"no primary-beam-corrected images observed between {mjd_to_iso(start_mjd)} and "
            f"{mjd_to_iso(end_mjd)}{dec_txt}"
        )
    for img in inputs:
        _check_input(img)
    if not any(_has_beam(img) for img in inputs):
        raise ContimgError(
            f"none of the images of mosaic {name!r} records its restoring beam "
            "(beam_major_arcsec/beam_minor_arcsec/beam_pa_deg)"
        )

    # 1. Common grid from the headers.
    geometries = [read_geometry(Path(img.path)) for img in inputs]
    if cfg.cell_arcsec is not None:
        cell_deg = cfg.cell_arcsec / 3600.0
    else:
        cell_deg = default_cell_deg(inputs, geometries)
    footprints = [mm.footprint_points(g.wcs, g.shape) for g in geometries]
    grid = mm.common_grid(footprints, cell_deg=cell_deg)
    say(
        f"{len(inputs)} images -> grid {grid.shape[1]} x {grid.shape[0]} px of "
        f'{cell_deg * 3600:.2f}" ({grid.wcs.wcs.ctype[0][-3:]}'
        f"{', full circle' if grid.full_circle else ''})"
    )
    timings["grid_s"] = time.perf_counter() - t0

    # 2. Accumulate one input at a time.
    t1 = time.perf_counter()
    acc = mm.WeightedAccumulator(grid.shape)
    beams = BeamPlanes()
    used: list[q.InputImage] = []
    for i, (img, foot) in enumerate(zip(inputs, footprints, strict=True), start=1):
        data, geometry = read_input(Path(img.path))
        assert img.pointing_ra_deg is not None and img.pointing_dec_deg is not None
        assert img.noise_jy is not None
        pb = beams.plane(img, geometry)
        n_pix = 0
        for box in grid.boxes_for(*foot):
            image_o, pb_o = resample_onto(data, pb, geometry, grid, box, pb_min=cfg.pb_min)
            weight = mm.pixel_weights(pb_o, rms_jy=float(img.noise_jy), pb_min=cfg.pb_min)
            n_pix += acc.add(box, image_o, weight)
        del data, pb
        if n_pix:
            used.append(img)
        else:
            say(f"[{i}/{len(inputs)}] {img.path}: no valid pixel (all blank), left out")
            continue
        say(f"[{i}/{len(inputs)}] {Path(img.path).name}: {n_pix} px")
    if not used:
        raise ContimgError(f"none of the {len(inputs)} images of window {name!r} has valid pixels")
    timings["accumulate_s"] = time.perf_counter() - t1

    # 3. Results, in place.
    t2 = time.perf_counter()
    covered = acc.covered()
    dec_lo, dec_hi = mm.covered_dec_range(grid, covered)
    centre_ra, centre_dec = mm.grid_centre(grid, covered)
    del covered
    mosaic, noise = acc.finish()
    noise_jy = mm.median_noise(noise)
    n_sources = mm.count_sources(mosaic, noise, snr_min=cfg.detection_snr)
    weights = [1.0 / float(img.noise_jy or 1.0) ** 2 for img in used]
    majors, minors, pas, beam_w = [], [], [], []
    for img, w in zip(used, weights, strict=True):
        if _has_beam(img):
            assert img.beam_major_arcsec and img.beam_minor_arcsec and img.beam_pa_deg is not None
            majors.append(float(img.beam_major_arcsec))
            minors.append(float(img.beam_minor_arcsec))
            pas.append(float(img.beam_pa_deg))
            beam_w.append(w)
    if not beam_w:
        raise ContimgError(
            f"none of the images of mosaic {name!r} records its restoring beam "
            "(beam_major_arcsec/beam_minor_arcsec/beam_pa_deg)"
        )
    bmaj, bmin, bpa = mm.mean_beam(majors, minors, pas, beam_w)
    obs_start = min(img.start_mjd if img.start_mjd is not None else img.mid_mjd for img in used)
    obs_end = max(img.end_mjd if img.end_mjd is not None else img.mid_mjd for img in used)
    integration = sum(
        float(img.integration_sec)
        if img.integration_sec
        else (
            (img.end_mjd - img.start_mjd) * SECONDS_PER_DAY
            if img.start_mjd is not None and img.end_mjd is not None
            else DSA110.group_duration_s
        )
        for img in used
    )
    freqs = [img.freq_ghz for img in used if img.freq_ghz]
    timings["finish_s"] = time.perf_counter() - t2

    # 4. Files (temporary names, then rename), then the row.
    t3 = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    common: dict[str, Any] = {
        "TELESCOP": "DSA-110",
        "OBJECT": name[:68],
        "ORIGIN": "contimg",
        "BMAJ": (bmaj / 3600.0, "[deg] mean restoring beam of the inputs"),
        "BMIN": (bmin / 3600.0, "[deg]"),
        "BPA": (bpa, "[deg] east of north"),
        "DATE-OBS": (mjd_to_iso(obs_start), "start of the first input (UTC)"),
        "MJD-OBS": (obs_start, "[d] start of the first input (UTC)"),
        "MJD-END": (obs_end, "[d] end of the last input (UTC)"),
        "NIMAGES": (len(used), "input images"),
        "INTTIME": (integration, "[s] summed integration of the inputs"),
        "NOISE": (noise_jy, "[Jy/beam] median of the noise map where covered"),
        "NSOURCES": (n_sources, f"islands >= {cfg.detection_snr:g} sigma"),
        "WEIGHTNG": ("PB^2/RMS^2", "pixel weight (inverse variance)"),
    }
    if freqs:
        common["RESTFRQ"] = (float(np.mean(freqs)) * 1e9, "[Hz] mean input frequency")
    hdr = _fits_header(grid, {**common, "BUNIT": "JY/BEAM", "BTYPE": "Intensity"})
    _atomic_write(path, lambda p: fits.PrimaryHDU(data=mosaic, header=hdr).writeto(p))
    nhdr = _fits_header(grid, {**common, "BUNIT": "JY/BEAM", "BTYPE": "Noise"})
    _atomic_write(noise_path, lambda p: fits.PrimaryHDU(data=noise, header=nhdr).writeto(p))
    png = render_png(mosaic, max_size_px=cfg.thumbnail_max_px)
    _atomic_write(png_path, lambda p: p.write_bytes(png))
    timings["write_s"] = time.perf_counter() - t3

    row: dict[str, Any] = {
        "path": str(path),
        "name": name,
        "created_at": time.time(),
        "start_mjd": float(obs_start),
        "end_mjd": float(obs_end),
        "integration_sec": float(integration),
        "n_images": len(used),
        "center_ra_deg": centre_ra,
        "center_dec_deg": centre_dec,
        "dec_min_deg": dec_lo,
        "dec_max_deg": dec_hi,
        "noise_jy": noise_jy,
        "beam_major_arcsec": bmaj,
        "beam_minor_arcsec": bmin,
        "beam_pa_deg": bpa,
        "n_sources": n_sources,
        "thumbnail_path": str(png_path),
    }
    with dbs.products.write() as conn:
        mosaic_id = q.save_mosaic(conn, row=row)
        if on_saved is not None:
            on_saved(conn, row)
    timings["total_s"] = time.perf_counter() - t0
    say(
        f"mosaic {name!r}: {len(used)} images, noise {noise_jy * 1e3:.3f} mJy/beam, "
        f"{n_sources} sources -> {path}"
    )
    return MosaicProducts(mosaic_id=mosaic_id, row=row, noise_path=noise_path, timings_s=timings)
