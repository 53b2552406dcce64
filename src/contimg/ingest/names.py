"""Subband file names and group ids.

A subband file is named ``YYYY-MM-DDTHH:MM:SS_sbNN.hdf5`` with ``NN`` from 00 to
15 (the correlator's UTC timestamp and the subband index; sb00 is the highest
frequency). A ``group_id`` is a timestamp in the same ``YYYY-MM-DDTHH:MM:SS`` form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from contimg.telescope import DSA110

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"
NAME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})_sb(\d{2})\.hdf5$")


@dataclass(frozen=True)
class SubbandName:
    """What a subband file's name says."""

    timestamp: str
    """``YYYY-MM-DDTHH:MM:SS`` (UTC)."""
    subband_idx: int
    """0..15; 0 is the highest frequency."""
    obs_time: float
    """The timestamp as Unix seconds."""


def parse_timestamp(text: str) -> float:
    """``YYYY-MM-DDTHH:MM:SS`` (UTC) -> Unix seconds; ValueError if malformed."""
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC).timestamp()


def format_timestamp(unix_s: float) -> str:
    """Unix seconds -> ``YYYY-MM-DDTHH:MM:SS`` (UTC, whole seconds)."""
    return datetime.fromtimestamp(round(unix_s), tz=UTC).strftime(TIMESTAMP_FORMAT)


def classify(name: str) -> SubbandName | str:
    """Parse a file name: a :class:`SubbandName`, or the reason it is not a subband file."""
    match = NAME_RE.match(name)
    if match is None:
        return "name does not match YYYY-MM-DDTHH:MM:SS_sbNN.hdf5"
    stamp, sb = match.groups()
    try:
        obs_time = parse_timestamp(stamp)
    except ValueError:
        return f"invalid timestamp {stamp!r} in the name"
    idx = int(sb)
    if idx >= DSA110.n_subbands:
        return f"subband sb{sb} out of range (sb00..sb{DSA110.n_subbands - 1:02d})"
    return SubbandName(timestamp=stamp, subband_idx=idx, obs_time=obs_time)


def subband_file_name(timestamp: str, subband_idx: int) -> str:
    """The file name of subband ``subband_idx`` written at ``timestamp``."""
    return f"{timestamp}_sb{subband_idx:02d}.hdf5"


def subband_label(idx: int) -> str:
    return f"sb{idx:02d}"
