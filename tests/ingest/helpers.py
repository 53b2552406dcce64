"""Factories for ingest tests and benchmarks: tiny but valid UVH5 headers on disk.

A file written here holds exactly what the ingest check reads (``Header/time_array``,
``Header/freq_array``, ``Header/extra_keywords/phase_center_dec``) plus a few other
UVH5 header fields and a one-sample ``Data/visdata``: a few kB per file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from contimg.ingest.names import TIMESTAMP_FORMAT, subband_file_name
from contimg.telescope import DSA110

GROUP_SPACING_S = 309.0


def write_tiny_uvh5(
    path: Path, *, timestamp: str, subband_idx: int, dec_deg: float = 54.57, n_times: int = 4
) -> Path:
    """Write a minimal UVH5 file for subband ``subband_idx`` starting at ``timestamp``."""
    import h5py

    start = datetime.strptime(timestamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    jd0 = start.timestamp() / 86400.0 + 2440587.5
    times = jd0 + np.arange(n_times) * DSA110.integration_s / 86400.0
    freqs = DSA110.subband_channel_freqs_hz(subband_idx, 4)
    with h5py.File(path, "w") as fh:
        hdr = fh.create_group("Header")
        hdr["time_array"] = times
        hdr["freq_array"] = freqs
        hdr["Nfreqs"] = freqs.size
        hdr["Ntimes"] = n_times
        hdr["Nblts"] = n_times
        hdr["Npols"] = 4
        hdr["telescope_name"] = np.bytes_("OVRO_MMA")
        extra = hdr.create_group("extra_keywords")
        extra["phase_center_dec"] = math.radians(dec_deg)
        fh.create_group("Data")["visdata"] = np.zeros((n_times, freqs.size, 4), dtype=np.complex64)
    return path


def group_timestamps(first: str, n_groups: int, *, spacing_s: float = GROUP_SPACING_S) -> list[str]:
    start = datetime.strptime(first, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    return [
        (start + timedelta(seconds=round(i * spacing_s))).strftime(TIMESTAMP_FORMAT)
        for i in range(n_groups)
    ]


def write_group(
    directory: Path,
    timestamp: str,
    *,
    subbands: Sequence[int] = range(16),
    jitter_s: Sequence[int] | None = None,
    dec_deg: float = 54.57,
) -> list[Path]:
    """Write the subband files of one group; ``jitter_s[i]`` shifts file i's timestamp."""
    directory.mkdir(parents=True, exist_ok=True)
    start = datetime.strptime(timestamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    paths = []
    for i, sb in enumerate(subbands):
        shift = jitter_s[i] if jitter_s is not None else 0
        stamp = (start + timedelta(seconds=shift)).strftime(TIMESTAMP_FORMAT)
        paths.append(
            write_tiny_uvh5(
                directory / subband_file_name(stamp, sb),
                timestamp=stamp,
                subband_idx=sb,
                dec_deg=dec_deg,
            )
        )
    return paths


def queue_pending_groups(db, n: int, *, first: str = "2025-10-02T00:00:00") -> list[str]:  # type: ignore[no-untyped-def]
    """Put ``n`` complete groups straight into the queue as ``pending`` (their file
    paths need not exist: for worker tests whose stages do not read them)."""
    import time

    from contimg.db.queries import ingest as iq

    ids = group_timestamps(first, n)
    now = time.time()
    with db.write() as conn:
        for k, gid in enumerate(ids):
            iq.create_group(conn, group_id=gid, expected_subbands=16, now=now + k * 1e-3)
            for sb in range(16):
                iq.add_subband(
                    conn,
                    group_id=gid,
                    subband_idx=sb,
                    path=f"/nonexistent/{subband_file_name(gid, sb)}",
                    size=1,
                    now=now,
                )
            iq.set_state(conn, group_id=gid, state="pending", now=now + k * 1e-3)
    return ids
