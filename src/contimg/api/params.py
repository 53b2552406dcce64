"""Route parameters and response descriptions shared by several routers: sky
positions, cone searches, PNG rendering, file answers; and the clock as MJD."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from astropy.time import Time
from fastapi import Query

from contimg.db.queries import listing
from contimg.db.queries.listing import Cone

FDeg = Annotated[float | None, Query(allow_inf_nan=False, ge=-360, le=360)]
Radius = Annotated[float | None, Query(allow_inf_nan=False, ge=1e-6, le=180)]
StretchName = Literal["asinh", "linear", "sqrt", "log"]
MaxSize = Annotated[int, Query(ge=16, le=4096, description="Largest side of the PNG (px).")]
StretchQ = Annotated[StretchName, Query(description="Transfer function.")]
PNG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "A PNG image."}
}
FITS: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/fits": {}}, "description": "A FITS file."}
}


def cone(
    ra: float | None, dec: float | None, radius: float | None, ra_col: str, dec_col: str
) -> Cone | None:
    """The cone of ``ra_deg``/``dec_deg``/``radius_deg`` (all or none) on the listing's
    ``ra_col``/``dec_col``; None when none is given."""
    given = [v is not None for v in (ra, dec, radius)]
    if any(given) and not all(given):
        raise listing.ListingError(
            "a cone needs all of ra_deg, dec_deg and radius_deg", field="radius_deg"
        )
    if ra is None or dec is None or radius is None:
        return None
    if not -90 <= dec <= 90:
        raise listing.ListingError(f"dec_deg {dec} is not in [-90, 90]", field="dec_deg")
    return Cone(ra % 360.0, dec, radius, ra_col, dec_col)


def now_mjd() -> float:
    """The current time as MJD (UTC)."""
    return float(Time(time.time(), format="unix").mjd)
