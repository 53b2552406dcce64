"""Planning a simulated run: group timing and file names, calibrator transits, pointing.

One *group* is 24 integrations of 12.884902 s (about 309 s) written as 16 UVH5
files, one per subband, named ``YYYY-MM-DDTHH:MM:SS_sbNN.hdf5`` (``sb00`` is the
highest frequency). The file timestamps of a group jitter by up to
``JITTER_S`` seconds; the group id is the ``sb00`` file's timestamp. Consecutive
groups follow each other without a gap, so the sky drifts by about 1.29 deg of RA
from group to group. The groups are simulated by :mod:`contimg.sim.observe`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from contimg.errors import ContimgError
from contimg.sim import astro
from contimg.sim.skymodel import CALIBRATORS
from contimg.telescope import DSA110

JITTER_S = 3.0
"""File timestamps of one group differ from the group start by at most this (s)."""
MAX_ZENITH_ANGLE_DEG = 75.0
"""Pointings further than this from the zenith are refused (DSA-110 points near it)."""


@dataclass(frozen=True)
class GroupPlan:
    """Timing and names of one group.

    Attributes
    ----------
    index : int
        0-based position in the run.
    start_mjd : float
        UTC MJD of the start of the first integration.
    times_mjd : ndarray
        Centres of the 24 integrations, UTC MJD, shape ``(24,)``.
    file_times : tuple of str
        ``YYYY-MM-DDTHH:MM:SS`` timestamp of each subband's file (index = subband).
    """

    index: int
    start_mjd: float
    times_mjd: NDArray[np.float64]
    file_times: tuple[str, ...]

    @property
    def group_id(self) -> str:
        """The canonical group id: the ``sb00`` file's timestamp."""
        return self.file_times[0]

    @property
    def mid_mjd(self) -> float:
        return float(self.times_mjd.mean())

    def file_names(self) -> list[str]:
        return [f"{ts}_sb{sb:02d}.hdf5" for sb, ts in enumerate(self.file_times)]


def plan_groups(
    start_mjd: float,
    n_groups: int,
    *,
    seed: int,
    days: int = 1,
    select: Sequence[int] | None = None,
) -> list[GroupPlan]:
    """Timing of the groups of a run starting at ``start_mjd``.

    A day's run is ``n_groups`` consecutive groups; ``select`` keeps only those
    indices (0-based; default all), so a run can skip the groups in between (they
    are not simulated). With ``days`` > 1 the same groups are planned again every
    sidereal day: a drift-scan telescope sees the same strip of sky at the same LST
    each day, which is how it gets epochs of a source. Plans are in time order and
    numbered 0, 1, ... (``GroupPlan.index``); the file-time jitter of a group does
    not depend on ``select``.
    """
    if n_groups < 1:
        raise ContimgError(f"number of groups must be at least 1 (got {n_groups})")
    if days < 1:
        raise ContimgError(f"number of days must be at least 1 (got {days})")
    chosen = set(range(n_groups)) if select is None else set(select)
    outside = sorted(g for g in chosen if not 0 <= g < n_groups)
    if outside or not chosen:
        raise ContimgError(
            f"selected groups {outside or '(none)'} are not among the run's 0..{n_groups - 1}"
        )
    rng = np.random.default_rng([seed, 3])
    dur_s = DSA110.group_duration_s
    plans: list[GroupPlan] = []
    for day in range(days):
        day_start = start_mjd + day * astro.SIDEREAL_DAY_S / 86_400.0
        for g in range(n_groups):
            jitter = rng.uniform(-JITTER_S, JITTER_S, DSA110.n_subbands)
            if g not in chosen:
                continue
            start = day_start + g * dur_s / 86_400.0
            times = start + (np.arange(DSA110.n_integrations_per_group) + 0.5) * (
                DSA110.integration_s / 86_400.0
            )
            names = tuple(astro.iso_from_mjd(start + j / 86_400.0) for j in jitter)
            plans.append(
                GroupPlan(len(plans), float(start), np.asarray(times, dtype=np.float64), names)
            )
    return plans


def parse_selection(text: str) -> list[int]:
    """Group indices from ``"0,8-10"`` (comma-separated indices and inclusive ranges)."""
    out: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        lo, sep, hi = part.partition("-")
        try:
            first = int(lo)
            last = int(hi) if sep else first
        except ValueError:
            raise ContimgError(
                f"bad group selection {text!r}: write indices and ranges, e.g. '0,8-10'"
            ) from None
        if first < 0 or last < first:
            raise ContimgError(f"bad group range {part!r} in {text!r}")
        out.update(range(first, last + 1))
    return sorted(out)


def calibrator_start_mjd(name: str, *, after_mjd: float, group_index: int = 0) -> float:
    """Run start so that calibrator ``name`` transits mid-way through group ``group_index``.

    The first transit at or after ``after_mjd`` is used.
    """
    ra, dec = calibrator_position(name)
    app_ra, _ = astro.apparent_radec_deg(ra, dec, after_mjd)
    transit = astro.next_transit_mjd(float(app_ra[0]), after_mjd)
    app_ra, _ = astro.apparent_radec_deg(ra, dec, transit)  # refine at the transit epoch
    transit = astro.next_transit_mjd(float(app_ra[0]), transit - 0.01)
    return transit - (group_index + 0.5) * DSA110.group_duration_s / 86_400.0


def calibrator_position(name: str) -> tuple[float, float]:
    """J2000 RA, Dec (deg) of a standard calibrator (case-insensitive name)."""
    key = {k.upper(): k for k in CALIBRATORS}.get(name.upper().replace(" ", ""))
    if key is None:
        raise ContimgError(f"unknown calibrator {name!r}: choose one of {', '.join(CALIBRATORS)}")
    ra, dec, _, _ = CALIBRATORS[key]
    return ra, dec


def check_pointing(dec_deg: float) -> None:
    """Refuse a declination the array cannot point at (clear error)."""
    za = abs(dec_deg - DSA110.site.lat_deg)
    if not -90.0 <= dec_deg <= 90.0 or za > MAX_ZENITH_ANGLE_DEG:
        lo = DSA110.site.lat_deg - MAX_ZENITH_ANGLE_DEG
        hi = min(90.0, DSA110.site.lat_deg + MAX_ZENITH_ANGLE_DEG)
        raise ContimgError(
            f"declination {dec_deg} deg cannot be observed: DSA-110 (latitude "
            f"{DSA110.site.lat_deg} deg) points on the meridian within "
            f"{MAX_ZENITH_ANGLE_DEG:.0f} deg of the zenith, i.e. Dec {lo:.1f} to {hi:.1f} deg"
        )


def check_out_dir(path: Path, what: str) -> None:
    """Create ``path`` if needed and check that it is a writable directory."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ContimgError(f"cannot create {what} {path}: {exc.strerror}") from None
    if not path.is_dir():
        raise ContimgError(f"{what} {path} is not a directory")
    probe = path / f".contimg-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ContimgError(f"{what} {path} is not writable: {exc.strerror}") from None
