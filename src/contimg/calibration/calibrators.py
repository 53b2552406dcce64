"""The calibrator list and calibrator transits.

A calibrator *transits* during a group when it passes within
``CalibrationSettings.transit_max_sep_deg`` of the meridian pointing at some
time of the group and its *apparent* 1.4 GHz flux there (list flux x Airy
response at the closest approach) is at least ``min_flux_jy``. The record
kept per match (``ingest_queue.calibrators``) has the name, position, 1.4 GHz
flux and the separation from the meridian pointing at the group's mid-time LST.
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from contimg.calibration.pointing import meridian_pointing_icrs
from contimg.config import CalibrationSettings
from contimg.errors import ContimgError
from contimg.science.beams import airy_power, angular_separation_rad
from contimg.science.mosaic import SIDEREAL_DEG_PER_DAY
from contimg.telescope import DSA110

REQUIRED_COLUMNS = ("name", "ra_deg", "dec_deg", "flux_jy")


@dataclass(frozen=True)
class Calibrator:
    name: str
    ra_deg: float
    dec_deg: float
    flux_jy: float
    """Flux density at 1.4 GHz, Jy."""
    spectral_index: float = 0.0
    """S ~ nu**spectral_index near 1.4 GHz."""

    def flux_at(self, freq_hz: float) -> float:
        return float(self.flux_jy * (freq_hz / 1.4e9) ** self.spectral_index)


def load_calibrators(path: Path | None = None) -> list[Calibrator]:
    """Read a calibrator CSV (``name,ra_deg,dec_deg,flux_jy[,spectral_index]``; ``#`` comments).

    ``None`` reads the list shipped with contimg (standard VLA calibrators).
    """
    if path is None:
        text = resources.files("contimg").joinpath("data/calibrators.csv").read_text()
        where = "the shipped calibrator list"
    else:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ContimgError(f"cannot read calibrator list {path}: {exc.strerror}") from exc
        where = str(path)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ContimgError(f"{where}: missing column(s) {', '.join(missing)}")
    out = []
    for n, row in enumerate(reader, start=2):
        try:
            cal = Calibrator(
                name=row["name"].strip(),
                ra_deg=float(row["ra_deg"]) % 360.0,
                dec_deg=float(row["dec_deg"]),
                flux_jy=float(row["flux_jy"]),
                spectral_index=float(row.get("spectral_index") or 0.0),
            )
        except (TypeError, ValueError) as exc:
            raise ContimgError(f"{where}: data line {n}: {exc} in {dict(row)}") from exc
        if not -90 <= cal.dec_deg <= 90 or cal.flux_jy <= 0:
            raise ContimgError(f"{where}: data line {n}: impossible values {dict(row)}")
        out.append(cal)
    return out


def find_calibrator(calibrators: list[Calibrator], name: str) -> Calibrator:
    key = name.replace(" ", "").upper()
    for cal in calibrators:
        if cal.name.replace(" ", "").upper() == key:
            return cal
    raise ContimgError(f"calibrator {name!r} is not in the calibrator list")


@dataclass(frozen=True)
class Transit:
    """A calibrator passing the pointing during a group."""

    name: str
    ra_deg: float
    dec_deg: float
    flux_jy: float
    sep_deg: float
    """Separation from the meridian pointing at the group's mid-time, degrees."""
    min_sep_deg: float
    """Smallest separation during the group, degrees."""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items()}


def _sep_deg(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    return math.degrees(
        float(
            angular_separation_rad(
                math.radians(ra1), math.radians(dec1), math.radians(ra2), math.radians(dec2)
            )
        )
    )


def find_transits(
    calibrators: list[Calibrator],
    *,
    start_mjd: float,
    end_mjd: float,
    dec_deg: float,
    settings: CalibrationSettings,
) -> list[Transit]:
    """Calibrators transiting during ``[start_mjd, end_mjd]`` at pointing Dec ``dec_deg``.

    A calibrator transits during a group when it crosses the meridian (the
    pointing's RA sweeps past its RA) between the group's start and end, passing
    within ``transit_max_sep_deg`` of the pointing centre, and is at least
    ``min_flux_jy`` bright. Exactly one group of a run contains a given transit.
    Sorted by separation at mid-time (the best first).
    """
    cands = [
        c
        for c in calibrators
        if c.flux_jy >= settings.min_flux_jy
        and abs(c.dec_deg - dec_deg) <= settings.transit_max_sep_deg + 0.5
    ]  # a cheap superset; the apparent flux at the closest approach decides below
    if not cands:
        return []
    ra0, _ = meridian_pointing_icrs(start_mjd, dec_deg)
    ra1, _ = meridian_pointing_icrs(end_mjd, dec_deg)
    sweep = (ra1 - ra0) % 360.0
    mid = 0.5 * (start_mjd + end_mjd)
    mid_ra, mid_dec = meridian_pointing_icrs(mid, dec_deg)
    out = []
    for c in cands:
        ahead = (c.ra_deg - ra0) % 360.0
        if sweep <= 0 or ahead >= sweep:
            continue
        t_transit = start_mjd + (end_mjd - start_mjd) * ahead / sweep
        pra, pdec = meridian_pointing_icrs(t_transit, dec_deg)
        min_sep = _sep_deg(c.ra_deg, c.dec_deg, pra, pdec)
        if min_sep > settings.transit_max_sep_deg:
            continue
        if apparent_flux_jy(c, min_sep) < settings.min_flux_jy:
            continue
        sep_mid = _sep_deg(c.ra_deg, c.dec_deg, mid_ra, mid_dec)
        out.append(Transit(c.name, c.ra_deg, c.dec_deg, c.flux_jy, sep_mid, min_sep))
    return sorted(out, key=lambda t: t.sep_deg)


def apparent_flux_jy(cal: Calibrator, sep_deg: float) -> float:
    """1.4 GHz flux of ``cal`` seen ``sep_deg`` from the beam centre (Airy power response)."""
    resp = airy_power(math.radians(sep_deg), 1.4e9, dish_diameter_m=DSA110.dish_diameter_m)
    return float(cal.flux_jy * float(resp))


@dataclass(frozen=True)
class PointingCalibrator:
    """A calibrator that transits a pointing: its closest approach and apparent flux there."""

    calibrator: Calibrator
    sep_deg: float
    """Declination offset from the pointing = separation at transit, degrees."""
    apparent_flux_jy: float


def pointing_calibrators(
    calibrators: list[Calibrator], *, dec_deg: float, settings: CalibrationSettings
) -> list[PointingCalibrator]:
    """Calibrators that transit (once a sidereal day) a pointing at declination ``dec_deg``.

    The transit rule of :func:`find_transits` without time: the closest approach is the
    declination offset; it must be within ``transit_max_sep_deg`` and the apparent flux
    there at least ``min_flux_jy``. Brightest (apparent) first. An empty list means the
    pointing has no calibrator in the list: waiting for one is pointless.
    """
    out = []
    for c in calibrators:
        sep = abs(c.dec_deg - dec_deg)
        if sep > settings.transit_max_sep_deg:
            continue
        flux = apparent_flux_jy(c, sep)
        if flux >= settings.min_flux_jy:
            out.append(PointingCalibrator(c, sep, flux))
    return sorted(out, key=lambda p: -p.apparent_flux_jy)


def next_transit_mjd(cal: Calibrator, *, after_mjd: float, dec_deg: float) -> float:
    """The first time after ``after_mjd`` at which the meridian pointing's RA passes ``cal``."""
    ra0, _ = meridian_pointing_icrs(after_mjd, dec_deg)
    t = after_mjd + ((cal.ra_deg - ra0) % 360.0) / SIDEREAL_DEG_PER_DAY
    ra1, _ = meridian_pointing_icrs(t, dec_deg)  # one correction step (precession drift)
    d = ((cal.ra_deg - ra1 + 180.0) % 360.0) - 180.0
    return t + d / SIDEREAL_DEG_PER_DAY


def nearest_calibrator(
    calibrators: list[Calibrator], *, dec_deg: float
) -> tuple[Calibrator, float] | None:
    """The list's calibrator nearest in declination to ``dec_deg`` (for messages)."""
    if not calibrators:
        return None
    best = min(calibrators, key=lambda c: abs(c.dec_deg - dec_deg))
    return best, abs(best.dec_deg - dec_deg)
