"""Mosaicking maths: a common grid for a set of image footprints, streaming
inverse-variance accumulation, and the noise map (``docs/science.md`` section 7).

Conventions
-----------
* A primary-beam-corrected pixel of an image with (un-corrected) noise ``rms``
  and primary-beam response ``pb`` has variance ``rms**2 / pb**2``; its weight is
  the inverse variance ``w = pb**2 / rms**2``.
* mosaic ``= sum(w I) / sum(w)``; noise map ``= 1 / sqrt(sum(w))``; a pixel is
  *covered* when ``sum(w) > 0``.
* Arrays are ``(n_y, n_x)`` (FITS order: row = latitude axis). Angles in degrees.

Grids
-----
Drift-scan windows are long strips in RA at a fixed declination (an hour is
15 deg of RA; a day wraps all the way round), so the common grid is a plate
carree (``CAR``, reference point on the equator: meridians and parallels are
straight pixel columns and rows) with square pixels at the strip's central
declination. A strip that covers the whole circle gets exactly 360 deg of
columns and wraps. Footprints reaching within ``pole_limit_deg`` of a pole use a
zenithal equal-area (``ZEA``) grid centred on that pole instead.

Nothing here reads files or databases.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from astropy.wcs import WCS
from numpy.typing import NDArray
from scipy import ndimage

from contimg.science.beams import primary_beam_at

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Box:
    """A rectangle of grid pixels: rows ``y0:y1``, columns ``x0:x1`` (half-open)."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.y1 - self.y0, self.x1 - self.x0)

    @property
    def slices(self) -> tuple[slice, slice]:
        return (slice(self.y0, self.y1), slice(self.x0, self.x1))

    @property
    def empty(self) -> bool:
        return self.y1 <= self.y0 or self.x1 <= self.x0


@dataclass(frozen=True)
class MosaicGrid:
    """The common output grid of a mosaic.

    Attributes
    ----------
    wcs : astropy.wcs.WCS
        Two-dimensional celestial WCS (RA/Dec, ICRS).
    shape : tuple of int
        ``(n_y, n_x)`` pixels.
    full_circle : bool
        True when the columns span exactly 360 deg of RA (the grid wraps).
    """

    wcs: WCS
    shape: tuple[int, int]
    full_circle: bool = False

    @property
    def cell_deg(self) -> float:
        """Pixel height (deg); on a CAR grid also the pixel width at the central Dec."""
        return float(abs(self.wcs.wcs.cdelt[1]))

    def box_wcs(self, box: Box) -> WCS:
        """WCS of the sub-grid ``box`` (same projection, shifted reference pixel)."""
        sub = self.wcs.deepcopy()
        sub.wcs.crpix = [self.wcs.wcs.crpix[0] - box.x0, self.wcs.wcs.crpix[1] - box.y0]
        sub.pixel_shape = (box.x1 - box.x0, box.y1 - box.y0)
        return sub

    def to_pixel(self, ra_deg: FloatArray, dec_deg: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Zero-based pixel coordinates ``(x, y)`` of sky positions (NaN where invalid)."""
        x, y = self.wcs.wcs_world2pix(np.asarray(ra_deg), np.asarray(dec_deg), 0)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def boxes_for(self, ra_deg: FloatArray, dec_deg: FloatArray, *, pad_px: int = 3) -> list[Box]:
        """Grid boxes covering a footprint given by its boundary points.

        A footprint that straddles the seam of a full-circle grid gives two boxes
        (one at each end); otherwise one. Boxes are clipped to the grid; empty
        ones are dropped.
        """
        x, y = self.to_pixel(ra_deg, dec_deg)
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            return []
        x, y = x[ok], y[ok]
        n_y, n_x = self.shape
        y0 = max(0, math.floor(y.min()) - pad_px)
        y1 = min(n_y, math.ceil(y.max()) + 1 + pad_px)
        spans: list[tuple[float, float]]
        if self.full_circle and (x.max() - x.min()) > n_x / 2:
            left, right = x[x < n_x / 2], x[x >= n_x / 2]
            spans = [(-pad_px, float(left.max())), (float(right.min()), n_x + pad_px)]
        else:
            spans = [(float(x.min()), float(x.max()))]
        boxes = []
        for lo, hi in spans:
            box = Box(
                y0=y0,
                y1=y1,
                x0=max(0, math.floor(lo) - pad_px),
                x1=min(n_x, math.ceil(hi) + 1 + pad_px),
            )
            if not box.empty:
                boxes.append(box)
        return boxes

    def pixel_world(self, box: Box) -> tuple[FloatArray, FloatArray]:
        """RA and Dec (deg, RA in [0, 360)) of every pixel centre of ``box``."""
        yy, xx = np.mgrid[box.y0 : box.y1, box.x0 : box.x1]
        ra, dec = self.wcs.wcs_pix2world(xx.astype(np.float64), yy.astype(np.float64), 0)
        return np.mod(ra, 360.0), np.asarray(dec, dtype=np.float64)


def footprint_points(
    wcs: WCS, shape: tuple[int, int], *, n_per_edge: int = 48
) -> tuple[FloatArray, FloatArray]:
    """Sky positions (deg) along the boundary of an image, and its centre.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        Two-dimensional celestial WCS of the image.
    shape : tuple of int
        ``(n_y, n_x)`` of the image.
    n_per_edge : int
        Points sampled along each edge.

    Returns
    -------
    ra_deg, dec_deg : numpy.ndarray
        Shape ``(4 * n_per_edge + 1,)``; RA in [0, 360). Points where the
        projection is undefined are dropped.
    """
    n_y, n_x = shape
    t = np.linspace(0.0, 1.0, n_per_edge, endpoint=False)
    # Outer pixel edges: -0.5 .. n - 0.5 in zero-based pixel coordinates.
    x_lo, x_hi, y_lo, y_hi = -0.5, n_x - 0.5, -0.5, n_y - 0.5
    along_x, along_y = x_lo + t * (x_hi - x_lo), y_lo + t * (y_hi - y_lo)
    xs = np.concatenate([along_x, np.full_like(t, x_hi), along_x[::-1], np.full_like(t, x_lo)])
    ys = np.concatenate([np.full_like(t, y_lo), along_y, np.full_like(t, y_hi), along_y[::-1]])
    xs = np.append(xs, (n_x - 1) / 2)
    ys = np.append(ys, (n_y - 1) / 2)
    ra, dec = wcs.wcs_pix2world(xs, ys, 0)
    ok = np.isfinite(ra) & np.isfinite(dec)
    return np.mod(ra[ok], 360.0), np.asarray(dec[ok], dtype=np.float64)


def ra_arc(ra_deg: FloatArray) -> tuple[float, float, float]:
    """The shortest arc of the RA circle holding every value.

    Returns
    -------
    start_deg, width_deg, largest_gap_deg : float
        The arc runs from ``start_deg`` eastwards over ``width_deg`` (start in
        [0, 360)); ``largest_gap_deg`` is the empty part of the circle.
    """
    ra = np.sort(np.mod(np.asarray(ra_deg, dtype=np.float64), 360.0))
    if ra.size == 0:
        raise ValueError("no RA values")
    gaps = np.diff(np.append(ra, ra[0] + 360.0))
    i = int(np.argmax(gaps))
    start = float(ra[(i + 1) % ra.size])
    gap = float(gaps[i])
    return start, 360.0 - gap, gap


def common_grid(
    footprints: Sequence[tuple[FloatArray, FloatArray]],
    *,
    cell_deg: float,
    pole_limit_deg: float = 75.0,
    full_circle_gap_deg: float = 1.0,
    margin_px: int = 2,
) -> MosaicGrid:
    """A grid covering every footprint at pixel size ``cell_deg``.

    Parameters
    ----------
    footprints : sequence of (ra_deg, dec_deg)
        Boundary points of each input (see :func:`footprint_points`).
    cell_deg : float
        Pixel size, degrees (on a CAR grid: square at the central declination).
    pole_limit_deg : float
        Footprints reaching beyond this |Dec| get a ZEA grid on the pole.
    full_circle_gap_deg : float
        When the empty part of the RA circle is smaller than this, the grid spans
        all 360 deg of RA and wraps.
    margin_px : int
        Empty pixels kept around the footprints.
    """
    if not footprints:
        raise ValueError("a mosaic needs at least one footprint")
    if not cell_deg > 0:
        raise ValueError(f"cell size must be positive, got {cell_deg} deg")
    ra = np.concatenate([np.asarray(f[0], dtype=np.float64) for f in footprints])
    dec = np.concatenate([np.asarray(f[1], dtype=np.float64) for f in footprints])
    dec_lo, dec_hi = float(dec.min()), float(dec.max())

    wcs = WCS(naxis=2)
    wcs.wcs.radesys = "ICRS"
    wcs.wcs.equinox = 2000.0
    full_circle = False
    if max(abs(dec_lo), abs(dec_hi)) > pole_limit_deg:
        pole = 90.0 if abs(dec_hi) >= abs(dec_lo) else -90.0
        wcs.wcs.ctype = ["RA---ZEA", "DEC--ZEA"]
        wcs.wcs.crval = [0.0, pole]
        wcs.wcs.cdelt = [-cell_deg, cell_deg]
        wcs.wcs.crpix = [0.0, 0.0]
    else:
        start, width, gap = ra_arc(ra)
        dec_mid = 0.5 * (dec_lo + dec_hi)
        cos_mid = max(math.cos(math.radians(dec_mid)), 1e-3)
        wcs.wcs.ctype = ["RA---CAR", "DEC--CAR"]
        wcs.wcs.cdelt = [-cell_deg / cos_mid, cell_deg]
        wcs.wcs.crpix = [0.0, 0.0]
        if gap < full_circle_gap_deg:
            full_circle = True
            n_x = math.ceil(360.0 / (cell_deg / cos_mid))
            wcs.wcs.crval = [180.0, 0.0]
            wcs.wcs.cdelt[0] = -360.0 / n_x
            wcs.wcs.crpix[0] = n_x / 2 + 0.5
        else:
            wcs.wcs.crval = [float(np.mod(start + width / 2, 360.0)), 0.0]
    wcs.wcs.set()

    x, y = wcs.wcs_world2pix(ra, dec, 0)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    y_lo = math.floor(float(y.min())) - margin_px
    n_y = math.ceil(float(y.max())) + margin_px - y_lo + 1
    wcs.wcs.crpix[1] -= y_lo
    if full_circle:
        n_x = round(360.0 / abs(float(wcs.wcs.cdelt[0])))
    else:
        x_lo = math.floor(float(x.min())) - margin_px
        n_x = math.ceil(float(x.max())) + margin_px - x_lo + 1
        wcs.wcs.crpix[0] -= x_lo
    wcs.wcs.set()
    wcs.pixel_shape = (n_x, n_y)
    return MosaicGrid(wcs=wcs, shape=(n_y, n_x), full_circle=full_circle)


def pixel_weights(pb: FloatArray, *, rms_jy: float, pb_min: float) -> FloatArray:
    """Inverse-variance weight of primary-beam-corrected pixels, ``pb**2 / rms**2``.

    Parameters
    ----------
    pb : numpy.ndarray
        Primary-beam power response at each pixel, any shape.
    rms_jy : float
        Noise of the image before primary-beam correction, Jy/beam.
    pb_min : float
        Pixels with a response below this (or not finite) get weight 0.
    """
    if not (rms_jy > 0 and math.isfinite(rms_jy)):
        raise ValueError(f"image noise must be a positive number, got {rms_jy!r} Jy")
    pb = np.asarray(pb, dtype=np.float64)
    good = np.isfinite(pb) & (pb >= pb_min)
    return np.where(good, pb * pb / (rms_jy * rms_jy), 0.0)


class WeightedAccumulator:
    """Running sums ``sum(w)`` and ``sum(w I)`` on a grid, one input at a time.

    Memory is that of the two float32 sums (8 bytes per grid pixel), whatever the
    number of inputs; each input's contribution is formed in float64 before it is
    added. Float32 sums keep a relative precision of ~1e-7, far below the noise.
    """

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape = shape
        self.sum_w: NDArray[np.float32] = np.zeros(shape, dtype=np.float32)
        self.sum_wi: NDArray[np.float32] = np.zeros(shape, dtype=np.float32)
        self.n_added = 0
        self._finished = False

    def add(self, box: Box, image: NDArray[np.floating], weight: FloatArray) -> int:
        """Add one input already resampled onto ``box``.

        Parameters
        ----------
        box : Box
            Where the arrays sit on the grid.
        image : numpy.ndarray
            Primary-beam-corrected intensity, Jy/beam, shape ``box.shape``; NaN
            pixels are ignored.
        weight : numpy.ndarray
            Pixel weights (:func:`pixel_weights`), 1/(Jy/beam)^2, same shape.

        Returns
        -------
        int
            Number of pixels that received weight.
        """
        if self._finished:
            raise RuntimeError("the accumulator was finished; start a new one")
        if image.shape != box.shape or weight.shape != box.shape:
            raise ValueError(
                f"arrays of shape {image.shape}/{weight.shape} do not fit box {box.shape}"
            )
        good = np.isfinite(image) & np.isfinite(weight) & (weight > 0)
        w = np.where(good, weight, 0.0)
        self.sum_w[box.slices] += w.astype(np.float32)
        self.sum_wi[box.slices] += (w * np.where(good, image, 0.0)).astype(np.float32)
        self.n_added += 1
        return int(np.count_nonzero(good))

    def covered(self) -> NDArray[np.bool_]:
        """Pixels with weight (call before :meth:`finish`)."""
        return np.asarray(self.sum_w > 0)

    def finish(
        self, *, chunk_px: int = 1_000_000
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """The mosaic ``sum(w I) / sum(w)`` and noise map ``1 / sqrt(sum(w))``.

        Computed IN PLACE in row chunks (the sums become the results, so no new
        full-size array is made); uncovered pixels are NaN in both. The
        accumulator cannot be used afterwards.
        """
        self._finished = True
        mosaic, noise = self.sum_wi, self.sum_w
        step = max(1, chunk_px // max(1, self.shape[1]))
        for r0 in range(0, self.shape[0], step):
            sl = slice(r0, r0 + step)
            sw = noise[sl]
            cov = sw > 0
            safe = np.where(cov, sw, np.float32(1.0))
            mosaic[sl] = np.where(cov, mosaic[sl] / safe, np.nan)
            noise[sl] = np.where(cov, 1.0 / np.sqrt(safe), np.nan)
        return mosaic, noise


def median_noise(noise: NDArray[np.floating]) -> float:
    """``noise_jy`` of a mosaic: the median of the noise map where covered (Jy/beam)."""
    finite = noise[np.isfinite(noise)]  # a copy, partitioned in place below
    if finite.size == 0:
        raise ValueError("the mosaic covers no pixel")
    return float(np.median(finite, overwrite_input=True))


def count_sources(
    mosaic: NDArray[np.floating], noise: NDArray[np.floating], *, snr_min: float = 5.0
) -> int:
    """Number of sources detected in a mosaic.

    A source is an island: a group of 8-connected covered pixels whose
    signal-to-noise ``mosaic / noise`` is at least ``snr_min``. Blended sources
    whose islands touch count once; a resolved source counts once.
    """
    detected = np.zeros(mosaic.shape, dtype=bool)
    step = max(1, 1_000_000 // max(1, mosaic.shape[-1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        for r0 in range(0, mosaic.shape[0], step):
            sl = slice(r0, r0 + step)
            detected[sl] = (mosaic[sl] >= snr_min * noise[sl]) & np.isfinite(mosaic[sl])
    _, n = ndimage.label(detected, structure=np.ones((3, 3), dtype=bool))
    return int(n)


def covered_dec_range(
    grid: MosaicGrid, covered: NDArray[np.bool_], *, chunk_px: int = 1_000_000
) -> tuple[float, float]:
    """Smallest and largest declination (deg) of covered pixel centres.

    Works through blocks of rows of about ``chunk_px`` pixels (bounded memory).
    """
    rows = np.flatnonzero(covered.any(axis=1))
    if rows.size == 0:
        raise ValueError("the mosaic covers no pixel")
    lo, hi = math.inf, -math.inf
    step = max(1, chunk_px // max(1, covered.shape[1]))
    for r0 in range(int(rows[0]), int(rows[-1]) + 1, step):
        r1 = min(int(rows[-1]) + 1, r0 + step)
        cols = np.flatnonzero(covered[r0:r1].any(axis=0))
        if cols.size == 0:
            continue
        box = Box(y0=r0, y1=r1, x0=int(cols[0]), x1=int(cols[-1]) + 1)
        _, dec = grid.pixel_world(box)
        sel = covered[box.slices]
        if sel.any():
            lo = min(lo, float(dec[sel].min()))
            hi = max(hi, float(dec[sel].max()))
    return lo, hi


def grid_centre(grid: MosaicGrid, covered: NDArray[np.bool_]) -> tuple[float, float]:
    """RA, Dec (deg) of the centre of the covered pixels' bounding box."""
    rows = np.flatnonzero(covered.any(axis=1))
    cols = np.flatnonzero(covered.any(axis=0))
    if rows.size == 0:
        raise ValueError("the mosaic covers no pixel")
    y = 0.5 * (rows[0] + rows[-1])
    x = 0.5 * (cols[0] + cols[-1])
    if grid.full_circle:
        x = (grid.shape[1] - 1) / 2
    ra, dec = grid.wcs.wcs_pix2world(np.array([x]), np.array([y]), 0)
    return float(np.mod(ra[0], 360.0)), float(dec[0])


def mean_beam(
    major_arcsec: Sequence[float],
    minor_arcsec: Sequence[float],
    pa_deg: Sequence[float],
    weights: Sequence[float],
) -> tuple[float, float, float]:
    """Weighted mean restoring beam of the inputs.

    Axes are weighted means; the position angle is the weighted axial mean
    (angles doubled, averaged as unit vectors, halved), in [0, 180) deg.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.size == 0 or not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise ValueError("beam weights must be finite with a positive sum")
    maj = float(np.average(np.asarray(major_arcsec, dtype=np.float64), weights=w))
    mnr = float(np.average(np.asarray(minor_arcsec, dtype=np.float64), weights=w))
    two = np.radians(2.0 * np.asarray(pa_deg, dtype=np.float64))
    sin2, cos2 = float(np.sum(w * np.sin(two))), float(np.sum(w * np.cos(two)))
    pa = 0.5 * math.degrees(math.atan2(sin2, cos2))
    pa = pa % 180.0
    if math.isclose(pa, 180.0, abs_tol=1e-9):
        pa = 0.0
    return maj, mnr, pa


SIDEREAL_DEG_PER_DAY = 360.98564736629
"""Rate at which a meridian pointing's RA advances (degrees per solar day)."""


def drift_offsets_deg(
    *, start_mjd: float, mid_mjd: float, end_mjd: float, n_samples: int = 9
) -> NDArray[np.float64]:
    """RA offsets (deg) from the mid-time pointing of ``n_samples`` meridian pointings:
    the centres of ``n_samples`` equal slices of [start, end] (the sky drifts at the
    sidereal rate), so that their mean is the time average over the group.

    The one sampling of a group's drift: the imaging stage's primary-beam correction
    (:func:`contimg.calibration.pointing.drift_pointings`, docs/imaging.md) and the mosaic
    weights both use it, so the mosaic weights with the beam the images were divided by.
    Sampling the two ends instead over-weights the extremes: the mean Airy response came
    out 0.5 % low for every source at Dec 52.
    """
    if n_samples < 2 or not end_mjd > start_mjd:
        return np.zeros(1)
    t = start_mjd + (np.arange(n_samples) + 0.5) * (end_mjd - start_mjd) / n_samples
    return np.asarray((t - mid_mjd) * SIDEREAL_DEG_PER_DAY, dtype=np.float64)


def drift_scan_beam(
    ra_deg: FloatArray,
    dec_deg: FloatArray,
    *,
    pointing_ra_deg: float,
    pointing_dec_deg: float,
    ra_offsets_deg: NDArray[np.float64],
    freq_hz: float,
    dish_diameter_m: float,
) -> FloatArray:
    """Effective primary beam of a drift-scan image: the Airy power response averaged
    over the meridian pointings ``pointing_ra_deg + ra_offsets_deg`` (fixed Dec).

    Parameters
    ----------
    ra_deg, dec_deg : numpy.ndarray
        Sky positions, degrees (any shape, broadcast together).
    pointing_ra_deg, pointing_dec_deg : float
        Mid-time pointing, degrees.
    ra_offsets_deg : numpy.ndarray
        Shape ``(n_samples,)``; see :func:`drift_offsets_deg`.
    freq_hz : float
        Frequency, Hz.
    dish_diameter_m : float
        Dish diameter, m.

    Returns
    -------
    numpy.ndarray
        Power response in [0, 1], shape of the broadcast positions.
    """
    total: FloatArray | None = None
    for off in np.asarray(ra_offsets_deg, dtype=np.float64).ravel():
        pb = primary_beam_at(
            ra_deg,
            dec_deg,
            pointing_ra_deg=float((pointing_ra_deg + off) % 360.0),
            pointing_dec_deg=pointing_dec_deg,
            freq_hz=freq_hz,
            dish_diameter_m=dish_diameter_m,
        )
        total = pb if total is None else total + pb
    assert total is not None
    return total / max(1, np.asarray(ra_offsets_deg).size)
