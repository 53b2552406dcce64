"""Quality bits of a ``photometry`` row (column ``flags``), defined once.

A measurement is always stored; its bits say how far to trust it. Bits in
:data:`BAD_MASK` exclude a measurement from variability statistics, ESE detection
and normalisation baselines. See ``docs/photometry.md``.
"""

from __future__ import annotations

from enum import IntFlag


class PhotFlag(IntFlag):
    """Bit values of ``photometry.flags``."""

    NONE = 0
    EDGE = 1
    """The fit box (one beam major axis around the position) reaches past the image edge."""
    BLANKED = 2
    """NaN or blanked pixels lie in the fit box."""
    BLENDED = 4
    """Fitted jointly with neighbours closer than 1.5 beam major axes (informational)."""
    BELOW_PB = 8
    """Primary-beam response at the position is below the configured cut."""
    NOT_NORMALISED = 16
    """Fewer than the required reference sources: the flux is raw, not normalised."""
    FIT_FAILED = 32
    """No finite amplitude or error (singular joint fit, no valid noise estimate)."""
    QC_REJECTED = 64
    """The image failed quality control (``image_qc``: outlying noise, beam or flux scale)."""
    CONFUSED = 128
    """A catalogued source at least ``photometry.confusion_ratio`` times brighter lies within
    ``photometry.confusion_radius_beams`` beam major axes: its varying sidelobes dominate."""


BAD_MASK: int = int(
    PhotFlag.EDGE
    | PhotFlag.BLANKED
    | PhotFlag.BELOW_PB
    | PhotFlag.NOT_NORMALISED
    | PhotFlag.FIT_FAILED
    | PhotFlag.QC_REJECTED
    | PhotFlag.CONFUSED
)
"""Bits that make a measurement unusable for statistics. BLENDED is not bad: blends
are fitted jointly with honest errors."""

RAW_BAD_MASK: int = BAD_MASK & ~int(PhotFlag.NOT_NORMALISED)
"""Bits that make a RAW measurement unusable (e.g. for a normalisation baseline)."""


def describe(flags: int) -> list[str]:
    """Names of the bits set in ``flags``, e.g. ``['EDGE', 'BLENDED']``."""
    return [f.name for f in PhotFlag if f.value and flags & f.value and f.name is not None]


def is_good(flags: int) -> bool:
    """True when no bit of :data:`BAD_MASK` is set."""
    return not (int(flags) & BAD_MASK)
