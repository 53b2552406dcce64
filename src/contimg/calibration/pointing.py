"""Where a drift-scan group points: the meridian at the pointing declination.

DSA-110 dishes are fixed at hour angle 0 and a fixed declination; the sky drifts
through. The pointing of a group is the ICRS direction of (hour angle 0,
declination ``dec``) at the group's mid-time, i.e. RA ~= the apparent local
sidereal time, converted to ICRS (precession since J2000 moves it by up to a few
tenths of a degree, which matters for primary-beam correction).
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import ICRS, EarthLocation, HADec, SkyCoord
from astropy.time import Time
from astropy.utils import iers

from contimg.science.mosaic import drift_offsets_deg
from contimg.telescope import DSA110

iers.conf.auto_download = False


def site_location() -> EarthLocation:
    """The DSA-110 array centre as an astropy location."""
    site = DSA110.site
    return EarthLocation.from_geodetic(
        lon=site.lon_deg * u.deg, lat=site.lat_deg * u.deg, height=site.height_m * u.m
    )


def lst_deg(mjd: float) -> float:
    """Apparent local sidereal time at the array (degrees, 0..360) at ``mjd`` (UTC)."""
    t = Time(mjd, format="mjd", scale="utc")
    return float(t.sidereal_time("apparent", longitude=site_location().lon).deg % 360.0)


def meridian_pointing_icrs(mjd: float, dec_deg: float) -> tuple[float, float]:
    """ICRS (RA, Dec) in degrees of hour angle 0 at declination ``dec_deg`` at ``mjd``.

    ``dec_deg`` is the declination of date (the dishes' setting, as stored in the
    files' ``phase_center_dec``). RA is wrapped into [0, 360).
    """
    t = Time(mjd, format="mjd", scale="utc")
    loc = site_location()
    hadec = SkyCoord(
        HADec(ha=0.0 * u.hourangle, dec=dec_deg * u.deg, obstime=t, location=loc, pressure=0)
    )
    icrs = hadec.transform_to(ICRS())
    return float(np.mod(icrs.ra.deg, 360.0)), float(icrs.dec.deg)


def field_name(ra_deg: float, dec_deg: float) -> str:
    """A field id like ``J1234+42`` (RA hhmm, Dec whole degrees) for a pointing."""
    ra_h = (ra_deg % 360.0) / 15.0
    hh = int(ra_h)
    mm = round((ra_h - hh) * 60.0)
    if mm == 60:
        hh, mm = (hh + 1) % 24, 0
    sign = "+" if dec_deg >= 0 else "-"
    return f"J{hh:02d}{mm:02d}{sign}{int(abs(dec_deg)):02d}"


def dec_of_date(ra_deg: float, dec_deg: float, mjd: float) -> float:
    """Declination of date (as the dishes are set) of an ICRS direction at ``mjd``."""
    t = Time(mjd, format="mjd", scale="utc")
    c = SkyCoord(ra=ra_deg * u.deg, dec=dec_deg * u.deg, frame=ICRS())
    hadec = c.transform_to(HADec(obstime=t, location=site_location(), pressure=0))
    return float(hadec.dec.deg)


def drift_pointings(
    *, ra_deg: float, dec_deg: float, mid_mjd: float, start_mjd: float, end_mjd: float, n: int = 9
) -> list[tuple[float, float]]:
    """ICRS meridian pointings sampled over a group from its mid-time pointing.

    The RA advances at the sidereal rate; the ICRS Dec is constant to < 1" over a group.
    The samples are :func:`contimg.science.mosaic.drift_offsets_deg`'s: the centres of
    ``n`` equal slices of [start, end].
    """
    offsets = drift_offsets_deg(start_mjd=start_mjd, mid_mjd=mid_mjd, end_mjd=end_mjd, n_samples=n)
    return [((ra_deg + float(off)) % 360.0, dec_deg) for off in offsets]
