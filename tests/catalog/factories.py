"""Small survey catalogue files in the published layouts (NVSS VIII/65, FIRST
VIII/92 14dec17, VLASS Epoch 1 QL components), written with astropy.table as
FITS (with TUNIT), CSV (no units) or VOTable (with units)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.table import Table

from contimg.catalog.readers import iau_names


def _col(
    values: Sequence[float] | np.ndarray, unit: u.UnitBase | None = None
) -> u.Quantity | np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    return arr * unit if unit is not None else arr


def nvss_table(
    ra_deg: Sequence[float],
    dec_deg: Sequence[float],
    flux_mjy: Sequence[float],
    err_mjy: Sequence[float] | float = 0.5,
    *,
    names: Sequence[str] | None = None,
    with_names: bool = True,
) -> Table:
    n = len(ra_deg)
    err = np.broadcast_to(np.asarray(err_mjy, dtype=np.float64), (n,))
    t = Table()
    if with_names:
        t["NVSS"] = list(names) if names is not None else iau_names(ra_deg, dec_deg)
    t["RAJ2000"] = _col(ra_deg, u.deg)
    t["DEJ2000"] = _col(dec_deg, u.deg)
    t["S1.4"] = _col(flux_mjy, u.mJy)
    t["e_S1.4"] = _col(err, u.mJy)
    t["MajAxis"] = _col(np.full(n, 45.0), u.arcsec)
    t["MinAxis"] = _col(np.full(n, 45.0), u.arcsec)
    t["PA"] = _col(np.zeros(n), u.deg)
    return t


def first_table(
    ra_deg: Sequence[float],
    dec_deg: Sequence[float],
    maj_arcsec: Sequence[float],
    min_arcsec: Sequence[float] | None = None,
    pa_deg: Sequence[float] | None = None,
    fint_mjy: Sequence[float] | None = None,
) -> Table:
    n = len(ra_deg)
    mn = np.asarray(min_arcsec if min_arcsec is not None else np.zeros(n), dtype=np.float64)
    pa = np.asarray(pa_deg if pa_deg is not None else np.zeros(n), dtype=np.float64)
    fint = np.asarray(fint_mjy if fint_mjy is not None else np.full(n, 10.0), dtype=np.float64)
    t = Table()
    t["FIRST"] = [f"J{x}" for x in iau_names(ra_deg, dec_deg)]
    t["RAJ2000"] = _col(ra_deg, u.deg)
    t["DEJ2000"] = _col(dec_deg, u.deg)
    t["Fpeak"] = fint * 0.9 * u.Unit("mJy/beam")
    t["Fint"] = _col(fint, u.mJy)
    t["Rms"] = np.full(n, 0.15) * u.Unit("mJy/beam")
    t["Maj"] = _col(maj_arcsec, u.arcsec)
    t["Min"] = _col(mn, u.arcsec)
    t["PA"] = _col(pa, u.deg)
    t["fMaj"] = _col(np.asarray(maj_arcsec, dtype=np.float64) + 5.4, u.arcsec)
    t["fMin"] = _col(mn + 5.4, u.arcsec)
    t["fPA"] = _col(pa, u.deg)
    return t


def vlass_table(
    ra_deg: Sequence[float], dec_deg: Sequence[float], total_flux_mjy: Sequence[float]
) -> Table:
    n = len(ra_deg)
    flux = np.asarray(total_flux_mjy, dtype=np.float64)
    t = Table()
    t["Component_name"] = [f"VLASS1QLCIR J{x}" for x in iau_names(ra_deg, dec_deg)]
    t["RA"] = _col(ra_deg, u.deg)
    t["DEC"] = _col(dec_deg, u.deg)
    t["Total_flux"] = _col(flux, u.mJy)
    t["E_Total_flux"] = _col(np.full(n, 0.2), u.mJy)
    t["Peak_flux"] = flux * 0.9 * u.Unit("mJy/beam")
    t["E_Peak_flux"] = np.full(n, 0.15) * u.Unit("mJy/beam")
    t["Maj"] = _col(np.full(n, 2.5), u.arcsec)
    t["Min"] = _col(np.full(n, 2.5), u.arcsec)
    t["PA"] = _col(np.zeros(n), u.deg)
    return t


def write(table: Table, path: Path) -> Path:
    """Write ``table`` in the format its suffix names (.fits, .csv, .vot)."""
    suffix = path.suffix.lower()
    if suffix == ".fits":
        table.write(path, format="fits", overwrite=True)
    elif suffix == ".csv":
        table.write(path, format="ascii.csv", overwrite=True)
    elif suffix in (".vot", ".xml"):
        table.write(path, format="votable", overwrite=True)
    else:
        raise ValueError(f"unknown suffix {suffix}")
    return path
