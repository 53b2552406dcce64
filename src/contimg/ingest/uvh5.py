"""The cheap completeness check of a UVH5 file: open it with h5py and read the header.

Only a few header values are read (the first and last time, the frequency axis's
shape, the pointing declination); the visibilities are never touched, so the
check costs about a millisecond even for a 500 MB file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REQUIRED = ("Header/time_array", "Header/freq_array", "Header/extra_keywords/phase_center_dec")


class CorruptFileError(Exception):
    """A subband file that cannot be used; ``str(err)`` is the reason (without the path)."""


@dataclass(frozen=True)
class HeaderFacts:
    """What the header says about one subband file."""

    start_jd: float
    """First time sample (JD, UTC)."""
    end_jd: float
    """Last time sample (JD, UTC)."""
    n_freqs: int
    dec_deg: float
    """Pointing declination (from ``phase_center_dec``, radians in the file)."""


def _scalar(value: Any) -> float:
    import numpy as np

    arr = np.asarray(value)
    if arr.size != 1:
        raise CorruptFileError(f"phase_center_dec has {arr.size} values, expected one")
    return float(arr.reshape(()))


def read_header(path: Path) -> HeaderFacts:
    """Check that ``path`` is an HDF5 file with a UVH5 header and return its facts.

    Raises
    ------
    CorruptFileError
        With a readable reason: not HDF5, truncated, a header dataset missing or
        empty, a non-finite or impossible declination.
    """
    import h5py

    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise CorruptFileError(f"cannot open as HDF5 ({exc})") from None
    try:
        with fh:
            missing = [name for name in REQUIRED if name not in fh]
            if missing:
                raise CorruptFileError("no UVH5 header: missing " + ", ".join(missing))
            times = fh["Header/time_array"]
            freqs = fh["Header/freq_array"]
            if times.size == 0:
                raise CorruptFileError("Header/time_array is empty")
            if freqs.size == 0:
                raise CorruptFileError("Header/freq_array is empty")
            if times.ndim != 1:
                raise CorruptFileError(f"Header/time_array has shape {times.shape}, expected 1-D")
            start_jd = float(times[0])
            end_jd = float(times[times.shape[0] - 1])
            n_freqs = int(freqs.size)
            dec_rad = _scalar(fh["Header/extra_keywords/phase_center_dec"][()])
    except CorruptFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise CorruptFileError(f"unreadable UVH5 header ({exc})") from None
    if not (math.isfinite(start_jd) and math.isfinite(end_jd)):
        raise CorruptFileError("Header/time_array holds non-finite times")
    if not math.isfinite(dec_rad) or abs(dec_rad) > math.pi / 2:
        raise CorruptFileError(
            f"phase_center_dec = {dec_rad!r} rad is not a declination (expected radians)"
        )
    return HeaderFacts(
        start_jd=start_jd,
        end_jd=end_jd,
        n_freqs=n_freqs,
        dec_deg=math.degrees(dec_rad),
    )
