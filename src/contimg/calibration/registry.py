"""The calibration registry's rules (science.md section 6), independent of storage.

* **set_name**: ``<calibrator>_<MJD day>_<HHMM>``, lower case, calibrator name
  with non-alphanumerics removed, MJD day = floor of the transit group's
  mid-time MJD, HHMM its UTC hour and minute: e.g. ``3c286_60238_1331``. One
  transit, one set; re-solving the same transit replaces the set.
* **Validity windows**, per table type, centred on the transit mid-time:
  K and BP +-12 h, G +-6 h by default (``CalibrationSettings.*_validity_h`` is the
  full window length).
* **Lookup** for an observation at MJD t: a set *covers* t when every one of its
  active tables' windows does. Among active sets covering t, the one created last
  wins. If none covers t, the set whose window midpoint (centre of the
  intersection of its tables' windows) is nearest to t, within
  ``extrapolate_max_h``, is used and the choice is marked extrapolated. Otherwise
  there is no set.
* **Pointing**: only sets solved at the observation's pointing take part: a set
  whose pointing Dec (recorded beside its tables, ``pointing.json``) differs from
  the observation's by more than ``pointing_match_deg`` is never applied (gains
  solved at Dec 16 are no use at Dec 65). A set without a recorded pointing (solved
  before contimg recorded it) takes part for any pointing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from astropy.time import Time

from contimg.config import CalibrationSettings
from contimg.db.queries.calibration import CaltableRow

ORDER_INDEX = {"K": 0, "BP": 1, "G": 2}


def set_name_for(calibrator: str, mid_mjd: float) -> str:
    """The documented set name of a transit of ``calibrator`` at ``mid_mjd``."""
    slug = "".join(ch for ch in calibrator.lower() if ch.isalnum()) or "cal"
    hhmm = Time(mid_mjd, format="mjd", scale="utc").strftime("%H%M")
    return f"{slug}_{math.floor(mid_mjd)}_{hhmm}"


def validity_window(
    kind: str, mid_mjd: float, settings: CalibrationSettings
) -> tuple[float, float]:
    """(start, end) MJD of a table of type ``kind`` solved at ``mid_mjd``."""
    hours = {
        "K": settings.k_validity_h,
        "BP": settings.bp_validity_h,
        "G": settings.g_validity_h,
    }[kind]
    half = hours / 24.0 / 2.0
    return mid_mjd - half, mid_mjd + half


@dataclass(frozen=True)
class CalSet:
    """A usable set: its tables in apply order."""

    set_name: str
    tables: list[CaltableRow]
    extrapolated: bool
    distance_h: float
    """Hours from the window midpoint to the observation."""

    @property
    def window(self) -> tuple[float, float]:
        return (
            max(t.valid_start_mjd for t in self.tables),
            min(t.valid_end_mjd for t in self.tables),
        )


def choose_set(
    rows: Iterable[CaltableRow],
    *,
    mjd: float,
    extrapolate_max_h: float,
    dec_deg: float | None = None,
    set_decs: Mapping[str, float | None] | None = None,
    pointing_match_deg: float = 0.5,
) -> CalSet | None:
    """Apply the lookup rule to ``caltables`` rows (inactive rows are ignored).

    With ``dec_deg`` (the observation's pointing Dec) and ``set_decs`` (set name ->
    the pointing Dec it was solved at, None if unknown), sets of another pointing are
    left out.
    """
    by_set: dict[str, list[CaltableRow]] = defaultdict(list)
    for r in rows:
        if int(r.active or 0) == 1:
            name = r.set_name
            if dec_deg is not None and set_decs is not None:
                sdec = set_decs.get(name)
                if sdec is not None and abs(sdec - dec_deg) > pointing_match_deg:
                    continue
            by_set[name].append(r)
    covering: list[tuple[float, str]] = []
    nearest: list[tuple[float, float, str]] = []
    for name, tabs in by_set.items():
        start = max(float(t.valid_start_mjd) for t in tabs)
        end = min(float(t.valid_end_mjd) for t in tabs)
        created = max(float(t.created_at) for t in tabs)
        if start <= mjd <= end:
            covering.append((created, name))
        else:
            dist_h = abs(0.5 * (start + end) - mjd) * 24.0
            nearest.append((dist_h, -created, name))

    def ordered(name: str) -> list[CaltableRow]:
        return sorted(by_set[name], key=lambda t: int(t.order_index))

    if covering:
        _, name = max(covering)
        tabs = ordered(name)
        mid = 0.5 * (max(t.valid_start_mjd for t in tabs) + min(t.valid_end_mjd for t in tabs))
        return CalSet(name, tabs, extrapolated=False, distance_h=abs(mid - mjd) * 24.0)
    if nearest:
        dist_h, _, name = min(nearest)
        if dist_h <= extrapolate_max_h:
            return CalSet(name, ordered(name), extrapolated=True, distance_h=dist_h)
    return None
