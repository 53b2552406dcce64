"""The calibrator-matching hook, called when a group becomes ``pending``.

Nothing is installed at import. A process that groups files installs a matcher
explicitly at start-up (``contimg ingest watch`` / ``scan`` and ``contimg reprocess``
do both, in this order):

* :func:`install_builtin_matcher`: the built-in one,
  :func:`contimg.calibration.matcher.match_pending`;
* ``CONTIMG_INGEST__CALIBRATOR_MATCHER=package.module:function``
  (:func:`load_calibrator_matcher`), which replaces it.

Code (tests, plug-ins) may call :func:`set_calibrator_matcher` itself.

A matcher receives a :class:`PendingGroup` and returns the calibrators transiting
during the group (an empty list: checked, none), or ``None`` when it cannot tell yet.
Each calibrator is a JSON-able mapping with at least a ``name`` (the built-in matcher
gives name, RA, Dec, 20 cm flux and separation from the meridian pointing), or just a
name, stored as ``{"name": ...}``. The result fills ``ingest_queue.has_calibrator``
and ``ingest_queue.calibrators`` (a JSON array of those records). A matcher that raises is logged
and leaves both NULL ("not checked"); the group is processed regardless.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contimg.errors import ContimgError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingGroup:
    """A group that just became ``pending``: what a matcher may need."""

    group_id: str
    subband_paths: dict[int, Path]
    start_jd: float | None
    """Earliest time sample of its files (JD, UTC), from the headers."""
    end_jd: float | None
    """Latest time sample (JD, UTC)."""
    dec_deg: float | None
    """Pointing declination from the headers (degrees)."""
    extra: dict[str, object] = field(default_factory=dict)


CalibratorRecord = Mapping[str, Any]
CalibratorMatcher = Callable[[PendingGroup], Sequence[str | CalibratorRecord] | None]

_matcher: CalibratorMatcher | None = None


def set_calibrator_matcher(matcher: CalibratorMatcher | None) -> None:
    """Install ``matcher`` (replacing any other); ``None`` removes it."""
    global _matcher
    _matcher = matcher


def get_calibrator_matcher() -> CalibratorMatcher | None:
    return _matcher


def install_builtin_matcher() -> CalibratorMatcher:
    """Install the built-in calibrator matcher (transits of the calibrator list)."""
    from contimg.calibration.matcher import match_pending

    set_calibrator_matcher(match_pending)
    return match_pending


def load_calibrator_matcher(spec: str) -> CalibratorMatcher:
    """Import ``package.module:function`` and install it as the matcher."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ContimgError(f"calibrator matcher {spec!r} must be written 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ContimgError(
            f"cannot import calibrator matcher module {module_name!r}: {exc}"
        ) from exc
    matcher = getattr(module, attr, None)
    if not callable(matcher):
        raise ContimgError(f"{spec!r}: {module_name} has no callable {attr!r}")
    set_calibrator_matcher(matcher)
    return matcher  # type: ignore[no-any-return]


def match(group: PendingGroup) -> list[dict[str, Any]] | None:
    """Run the installed matcher: one record per calibrator, each with a ``name``.

    None when there is no matcher, it cannot tell, it failed, or it returned a record
    without a name (logged, naming the group).
    """
    matcher = _matcher
    if matcher is None:
        return None
    try:
        result = matcher(group)
    except Exception:
        log.exception("calibrator matcher failed for group %s; left unchecked", group.group_id)
        return None
    if result is None:
        return None
    records: list[dict[str, Any]] = []
    for item in result:
        record = {"name": item} if isinstance(item, str) else dict(item)
        if not isinstance(record.get("name"), str) or not record["name"]:
            log.error(
                "calibrator matcher returned %r for group %s: a record needs a 'name'; "
                "left unchecked",
                item,
                group.group_id,
            )
            return None
        records.append(record)
    return records
