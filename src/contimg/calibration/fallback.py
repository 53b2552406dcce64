"""No calibration set covers a group: wait for a coming transit, fall back, or fail.

The rule (docs/calibration.md): if a calibrator of the list transits the group's
pointing, wait until that transit plus ``transit_wait_margin_h`` (at most
``wait_timeout_h`` after the group was received); then, or if none does, apply the
nearest set of the same pointing within ``fallback_max_days`` (marked extrapolated),
else with ``imaging.allow_uncalibrated`` go on uncalibrated, else fail with a message
naming the cause.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from contimg.calibration.calibrators import (
    load_calibrators,
    nearest_calibrator,
    next_transit_mjd,
    pointing_calibrators,
)
from contimg.calibration.lookup import DAY_H, lookup_set
from contimg.calibration.pointing import dec_of_date
from contimg.calibration.registry import CalSet
from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.queries import calibration as cq
from contimg.db.queries.products import MsRow
from contimg.errors import ContimgError


@dataclass(frozen=True)
class NoSet:
    """What to do with a group no calibration set covers."""

    action: Literal["wait", "fallback", "uncalibrated"]
    message: str
    """``wait``: why the group waits; otherwise the caveat to note on the group."""
    retry_after_s: float = 0.0
    """``wait``: do not try again before this many seconds."""
    cal_set: CalSet | None = None
    """``fallback``: the (extrapolated) set to apply."""


def when_no_set(
    dbs: Databases,
    settings: Settings,
    *,
    group_id: str,
    ms_row: MsRow,
    now: float | None = None,
) -> NoSet:
    """What to do for ``group_id`` (its ``ms_index`` row ``ms_row``) when no set covers it.

    Raises
    ------
    ContimgError
        The group cannot be calibrated and may not go on uncalibrated.
    """
    cs = settings.calibration
    obs = ms_row.observation()
    mjd = obs.mid_mjd
    dec = obs.pointing_dec_deg
    dec_date = dec_of_date(obs.pointing_ra_deg, dec, mjd)
    cals = load_calibrators(cs.calibrators_csv)
    here = pointing_calibrators(cals, dec_deg=dec_date, settings=cs)
    with dbs.ingest.read() as conn:
        received = cq.group_received_at(conn, group_id=group_id)
    now = time.time() if now is None else now
    waited_h = 0.0 if received is None else (now - received) / 3600.0
    msg = (
        f"no active calibration set of pointing Dec {dec:.2f} deg covers MJD {mjd:.5f} "
        f"(nor one within {cs.extrapolate_max_h:g} h)"
    )
    if here:
        nxt = min(
            (next_transit_mjd(p.calibrator, after_mjd=mjd, dec_deg=dec_date), p.calibrator.name)
            for p in here
        )
        wait_h = min(cs.wait_timeout_h, (nxt[0] - mjd) * DAY_H + cs.transit_wait_margin_h)
        cause = f"{msg}; the next transit at this pointing ({nxt[1]}, MJD {nxt[0]:.4f}) gave no set"
        if waited_h < wait_h:
            return NoSet(
                "wait",
                f"waiting for calibration: {msg}; next calibrator transit at this pointing: "
                f"{nxt[1]} at MJD {nxt[0]:.4f} ({(nxt[0] - mjd) * DAY_H:.1f} h after the "
                f"group); waited {waited_h:.2f} h of {wait_h:.2f} h",
                retry_after_s=cs.retry_after_s,
            )
    else:
        near = nearest_calibrator(cals, dec_deg=dec_date)
        near_txt = (
            ""
            if near is None
            else f"; nearest in Dec: {near[0].name} at Dec {near[0].dec_deg:.2f} "
            f"({near[1]:.2f} deg away)"
        )
        cause = (
            f"{msg}; NO CALIBRATOR of the calibrator list transits pointing Dec {dec:.2f} "
            f"deg (within {cs.transit_max_sep_deg:g} deg and at least {cs.min_flux_jy:g} Jy "
            f"apparent){near_txt}"
        )
    fallback = lookup_set(
        dbs,
        settings,
        mjd=mjd,
        dec_deg=dec,
        extrapolate_max_h=cs.fallback_max_days * DAY_H,
    )
    if fallback is not None:
        note = (
            f"EXTRAPOLATED calibration: {cause}; applied the nearest set of this pointing, "
            f"{fallback.set_name}, {fallback.distance_h:.1f} h away"
        )
        return NoSet(
            "fallback",
            note,
            cal_set=CalSet(
                fallback.set_name,
                fallback.tables,
                extrapolated=True,
                distance_h=fallback.distance_h,
            ),
        )
    if settings.imaging.allow_uncalibrated:
        note = f"UNCALIBRATED: {cause}; imaging DATA (imaging.allow_uncalibrated)"
        return NoSet("uncalibrated", note)
    raise ContimgError(
        f"group {group_id} cannot be calibrated: {cause}; no set of this pointing within "
        f"{cs.fallback_max_days:g} days either (waited {waited_h:.1f} h). Solve a transit "
        "('contimg cal solve MS'), add a calibrator for this Dec to the list "
        "(calibration.calibrators_csv) or set imaging.allow_uncalibrated, then "
        "'contimg queue retry'"
    )
