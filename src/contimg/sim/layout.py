"""Antenna layouts: a generated T-shaped array of DSA-110's extent, or a station CSV.

Positions are returned as east-north-up offsets (metres) from the array centre
(:attr:`contimg.telescope.DSA110.site`) and converted to the Earth-centred frame that
UVH5 files store with :func:`ecef_offsets_m`.

The generated layout follows the published facts about the array (a T of 102 core
stations, 51 on an east-west arm about 390 m long and 51 on a north-south arm about
450 m long, plus 15 outriggers reaching about 1.2 km west and 1.6 km north); station
positions themselves are synthetic.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from contimg.errors import ContimgError
from contimg.telescope import DSA110

# Outrigger offsets (east, north) in metres: synthetic, spanning the real extent.
_OUTRIGGERS_EN_M: tuple[tuple[float, float], ...] = (
    (-1150.0, 640.0),
    (-1020.0, 1040.0),
    (-760.0, -420.0),
    (-560.0, 1340.0),
    (-420.0, 260.0),
    (-260.0, -610.0),
    (-120.0, 980.0),
    (60.0, 1590.0),
    (210.0, -625.0),
    (330.0, 700.0),
    (370.0, 1590.0),
    (450.0, -300.0),
    (520.0, 1180.0),
    (600.0, 220.0),
    (610.0, -560.0),
)


@dataclass(frozen=True, slots=True)
class Layout:
    """Antenna names and east-north-up offsets (metres, shape ``(n_ant, 3)``)."""

    names: tuple[str, ...]
    enu_m: NDArray[np.float64]
    source: str
    """``"T-shaped"`` or the station CSV's path."""

    @property
    def n_antennas(self) -> int:
        return len(self.names)

    def max_baseline_m(self) -> float:
        d = self.enu_m[:, None, :2] - self.enu_m[None, :, :2]
        return float(np.sqrt((d**2).sum(-1)).max())


def t_shaped_stations() -> Layout:
    """All 117 stations of a synthetic T-shaped DSA-110 layout."""
    ew = np.column_stack([np.linspace(-180.0, 210.0, 51), np.full(51, -250.0), np.zeros(51)])
    ns = np.column_stack([np.full(51, 19.0), np.linspace(-222.0, 230.0, 51), np.zeros(51)])
    out = np.array([(e, n, 0.0) for e, n in _OUTRIGGERS_EN_M])
    enu = np.vstack([ew, ns, out])
    names = tuple(f"DSA-{i + 1:03d}" for i in range(len(enu)))
    return Layout(names=names, enu_m=enu, source="T-shaped")


def _even_pick(n_from: int, n_take: int) -> NDArray[np.int64]:
    if n_take >= n_from:
        return np.arange(n_from)
    return np.unique(np.round(np.linspace(0, n_from - 1, n_take)).astype(np.int64))


def _irregular_pick(n_from: int, n_take: int, seed: int) -> NDArray[np.int64]:
    """``n_take`` of ``n_from`` stations along an arm, irregularly spaced.

    Evenly thinned arms have a regular spacing whose grating lobes fall inside the
    primary beam (e.g. 48 m spacing: lobes every 0.25 deg); a fixed pseudo-random
    choice (always keeping both ends) avoids them.
    """
    if n_take >= n_from:
        return np.arange(n_from)
    rng = np.random.default_rng(seed)
    inner = rng.choice(np.arange(1, n_from - 1), size=max(0, n_take - 2), replace=False)
    return np.sort(np.concatenate([[0, n_from - 1], inner]).astype(np.int64))[:n_take]


def select_antennas(layout: Layout, n_antennas: int) -> Layout:
    """A subset of ``n_antennas`` stations keeping the array's extent and shape.

    For the T-shaped layout about a quarter of the antennas are outriggers (they set
    the resolution) and the arms are thinned irregularly (no grating lobes); for a
    station CSV the stations are thinned evenly in file order.
    """
    n_all = layout.n_antennas
    if n_antennas > n_all:
        raise ContimgError(
            f"the layout ({layout.source}) has {n_all} stations, fewer than the "
            f"{n_antennas} antennas requested"
        )
    if layout.source == "T-shaped" and n_all == 117 and n_antennas < n_all:
        n_out = min(15, max(4, round(n_antennas * 0.28)))
        n_core = n_antennas - n_out
        n_ew = n_core // 2
        n_ns = n_core - n_ew
        idx = np.concatenate(
            [
                _irregular_pick(51, n_ew, 1),
                51 + _irregular_pick(51, n_ns, 2),
                102 + _even_pick(15, n_out),
            ]
        )
    else:
        idx = _even_pick(n_all, n_antennas)
    return Layout(
        names=tuple(layout.names[i] for i in idx), enu_m=layout.enu_m[idx], source=layout.source
    )


def read_station_csv(path: Path) -> Layout:
    """Read a station table: header lines, then name, latitude, longitude, elevation.

    The layout of the table published by the DSA-110 project is accepted as-is: a few
    header lines, an optional empty first column, then rows of station name, latitude
    (deg), longitude (deg, east positive) and elevation (m, may be blank: the median
    is used). Rows whose latitude/longitude do not parse as numbers are skipped.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ContimgError(f"cannot read antenna position file {path}: {exc.strerror}") from None
    names: list[str] = []
    lat: list[float] = []
    lon: list[float] = []
    elev: list[float] = []
    for row in csv.reader(text.splitlines()):
        cells = [c.strip() for c in row]
        while cells and cells[0] == "":
            cells.pop(0)
        if len(cells) < 3:
            continue
        try:
            la, lo = float(cells[1]), float(cells[2])
        except ValueError:
            continue
        if not (-90 <= la <= 90 and -360 <= lo <= 360):
            continue
        names.append(cells[0])
        lat.append(la)
        lon.append(lo)
        try:
            elev.append(float(cells[3]) if len(cells) > 3 and cells[3] else np.nan)
        except ValueError:
            elev.append(np.nan)
    if len(names) < 3:
        raise ContimgError(
            f"antenna position file {path} has {len(names)} station rows; expected rows of "
            "name, latitude (deg), longitude (deg), elevation (m) after the header lines"
        )
    el = np.asarray(elev)
    if np.all(np.isnan(el)):
        el[:] = DSA110.site.height_m
    el[np.isnan(el)] = np.nanmedian(el)
    enu = enu_from_geodetic(np.asarray(lat), np.asarray(lon), el)
    far = np.abs(enu).max()
    if far > 20_000:
        raise ContimgError(
            f"antenna position file {path}: a station lies {far / 1000:.0f} km from the "
            "DSA-110 site; is it a DSA-110 station table (latitude, longitude in degrees)?"
        )
    return Layout(names=tuple(names), enu_m=enu, source=str(path))


def _site_xyz() -> NDArray[np.float64]:
    from pyuvdata.utils import XYZ_from_LatLonAlt

    s = DSA110.site
    return np.asarray(
        XYZ_from_LatLonAlt(np.radians(s.lat_deg), np.radians(s.lon_deg), s.height_m),
        dtype=np.float64,
    )


def enu_from_geodetic(
    lat_deg: NDArray[np.float64], lon_deg: NDArray[np.float64], height_m: NDArray[np.float64]
) -> NDArray[np.float64]:
    """East-north-up offsets (m, shape ``(n, 3)``) of geodetic positions from the site."""
    from pyuvdata.utils import ENU_from_ECEF, XYZ_from_LatLonAlt

    s = DSA110.site
    xyz = XYZ_from_LatLonAlt(np.radians(lat_deg), np.radians(lon_deg), height_m)
    enu = ENU_from_ECEF(
        np.atleast_2d(xyz),
        latitude=np.radians(s.lat_deg),
        longitude=np.radians(s.lon_deg),
        altitude=s.height_m,
    )
    return np.asarray(enu, dtype=np.float64)


def ecef_offsets_m(enu_m: NDArray[np.float64]) -> NDArray[np.float64]:
    """Earth-centred offsets from the site (m, shape ``(n, 3)``), as UVH5 stores them."""
    from pyuvdata.utils import ECEF_from_ENU

    s = DSA110.site
    xyz = ECEF_from_ENU(
        enu_m,
        latitude=np.radians(s.lat_deg),
        longitude=np.radians(s.lon_deg),
        altitude=s.height_m,
    )
    return np.asarray(xyz, dtype=np.float64) - _site_xyz()[None, :]


def load_layout(antpos: Path | None, n_antennas: int) -> Layout:
    """The layout used by a run: a station CSV (``antpos``) or the T-shaped one."""
    full = t_shaped_stations() if antpos is None else read_station_csv(antpos)
    return select_antennas(full, n_antennas)
