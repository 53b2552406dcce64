"""The built-in calibrator matcher for the ingest hook (:mod:`contimg.ingest.hooks`).

Nothing installs it at import: a process that groups files calls
:func:`contimg.ingest.hooks.install_builtin_matcher` at start-up (``contimg ingest
scan`` / ``watch``, ``contimg reprocess``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contimg.calibration.calibrators import find_transits, load_calibrators
from contimg.config import get_settings

if TYPE_CHECKING:  # a type only: calibration does not depend on ingest at run time
    from contimg.ingest.hooks import PendingGroup


def match_pending(group: PendingGroup) -> list[dict[str, Any]] | None:
    """Calibrator matcher for the ingest hook: the calibrators transiting ``group``.

    One record per calibrator (name, RA, Dec, 20 cm flux, separation from the meridian
    pointing at mid-time and its smallest value during the group), from the headers'
    time range and pointing Dec. ``None`` (cannot tell) when those are unknown. The
    calibrate stage recomputes the record from the Measurement Set (Dec of date) and
    stores it again, so the queue always shows what calibration used.
    """
    if group.start_jd is None or group.end_jd is None or group.dec_deg is None:
        return None
    cs = get_settings().calibration
    transits = find_transits(
        load_calibrators(cs.calibrators_csv),
        start_mjd=group.start_jd - 2400000.5,
        end_mjd=group.end_jd - 2400000.5,
        dec_deg=group.dec_deg,
        settings=cs,
    )
    return [t.to_json() for t in transits]
