"""Time and coordinate helpers for the simulator (astropy, no downloads).

Times are UTC MJD (float) unless a name says otherwise; angles in degrees.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from contimg.telescope import DSA110

SIDEREAL_DAY_S = 86_164.0905
"""Length of a sidereal day, seconds (UT1)."""


def configure_iers() -> None:
    """Forbid IERS downloads; accept the bundled tables' predictions (no network here)."""
    from astropy.utils import iers

    iers.conf.auto_download = False
    iers.conf.auto_max_age = None


def site_location() -> object:
    """The array centre as an astropy ``EarthLocation``."""
    import astropy.units as u
    from astropy.coordinates import EarthLocation

    s = DSA110.site
    return EarthLocation.from_geodetic(s.lon_deg * u.deg, s.lat_deg * u.deg, s.height_m * u.m)


def lst_deg(mjd: ArrayLike) -> NDArray[np.float64]:
    """Apparent local sidereal time at the site (degrees, 0-360) at UTC ``mjd``."""
    from astropy.time import Time

    configure_iers()
    t = Time(np.asarray(mjd, dtype=np.float64), format="mjd", scale="utc")
    lst = t.sidereal_time("apparent", longitude=DSA110.site.lon_deg)
    return np.asarray(lst.deg, dtype=np.float64) % 360.0


def mjd_from_iso(iso: str) -> float:
    """UTC MJD of an ISO-8601 time such as ``2025-10-02T00:12:00``."""
    from astropy.time import Time

    from contimg.errors import ContimgError

    try:
        return float(Time(iso, format="isot", scale="utc").mjd)
    except ValueError:
        try:
            return float(Time(iso, scale="utc").mjd)
        except ValueError:
            raise ContimgError(
                f"cannot read time {iso!r}: give ISO 8601 UTC, e.g. 2025-10-02T00:12:00"
            ) from None


def iso_from_mjd(mjd: float) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` (UTC, whole seconds, rounded) of ``mjd``."""
    from astropy.time import Time

    t = Time(round(mjd * 86_400.0) / 86_400.0, format="mjd", scale="utc")
    return str(t.strftime("%Y-%m-%dT%H:%M:%S"))


def next_transit_mjd(ra_deg: float, after_mjd: float) -> float:
    """First time at or after ``after_mjd`` when apparent LST equals ``ra_deg``.

    ``ra_deg`` is taken as an apparent right ascension (give the apparent value for
    arcsecond work; J2000 is within ~0.4 deg of it in this era).
    """
    t = float(after_mjd)
    for _ in range(3):  # Newton steps on a nearly linear function
        dlst = (ra_deg - float(lst_deg(t))) % 360.0
        if dlst > 359.999:
            dlst -= 360.0
        t += dlst / 360.0 * SIDEREAL_DAY_S / 86_400.0
    return t


def apparent_radec_deg(
    ra_deg: ArrayLike, dec_deg: ArrayLike, mjd: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """ICRS (J2000) positions to pyuvdata's apparent frame at UTC ``mjd`` (degrees)."""
    from astropy.time import Time
    from pyuvdata.utils.phasing import calc_app_coords

    configure_iers()
    ra = np.atleast_1d(np.asarray(ra_deg, dtype=np.float64))
    dec = np.atleast_1d(np.asarray(dec_deg, dtype=np.float64))
    jd = Time(mjd, format="mjd", scale="utc").jd
    app_ra, app_dec = calc_app_coords(
        lon_coord=np.radians(ra),
        lat_coord=np.radians(dec),
        coord_frame="icrs",
        time_array=np.full(ra.size, jd),
        telescope_loc=site_location(),
        all_times_unique=True,
    )
    return np.degrees(app_ra) % 360.0, np.degrees(app_dec)


def icrs_of_pointing(mjd: float, dec_deg: float) -> tuple[float, float]:
    """ICRS (J2000) RA, Dec of the meridian pointing (apparent RA = LST) at ``mjd``."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astropy.time import Time

    configure_iers()
    t = Time(mjd, format="mjd", scale="utc")
    lst = float(lst_deg(mjd))
    # Apparent (true equator and equinox of date) -> ICRS.
    from astropy.coordinates import TETE

    c = SkyCoord(TETE(ra=lst * u.deg, dec=dec_deg * u.deg, obstime=t)).icrs
    return float(c.ra.deg), float(c.dec.deg)
