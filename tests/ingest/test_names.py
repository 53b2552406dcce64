"""File-name rules and the UVH5 header check."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from contimg.ingest.names import SubbandName, classify, format_timestamp, parse_timestamp
from contimg.ingest.uvh5 import CorruptFileError, read_header
from tests.factories import write_tiny_uvh5


@pytest.mark.parametrize(
    ("name", "idx"),
    [
        ("2025-10-02T00:12:00_sb05.hdf5", 5),
        ("2025-10-02T00:12:00_sb00.hdf5", 0),
        ("2024-02-29T23:59:59_sb15.hdf5", 15),
    ],
)
def test_subband_names(name: str, idx: int) -> None:
    parsed = classify(name)
    assert isinstance(parsed, SubbandName)
    assert parsed.subband_idx == idx
    assert format_timestamp(parsed.obs_time) == parsed.timestamp == name[:19]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("2025-10-02T00:12:00_sb16.hdf5", "out of range"),
        ("2025-10-02T00:12:00_sb5.hdf5", "does not match"),
        ("2025-10-02 00:12:00_sb05.hdf5", "does not match"),
        ("2025-10-02T00:12:00_sb05.hdf5.tmp", "does not match"),
        (".2025-10-02T00:12:00_sb05.hdf5", "does not match"),
        ("2025-13-02T00:12:00_sb05.hdf5", "invalid timestamp"),
        ("notes.txt", "does not match"),
    ],
)
def test_other_names_are_not_subband_files(name: str, why: str) -> None:
    reason = classify(name)
    assert isinstance(reason, str)
    assert why in reason


def test_timestamp_round_trip() -> None:
    assert parse_timestamp("1970-01-01T00:01:00") == 60.0
    assert format_timestamp(60.4) == "1970-01-01T00:01:00"


def test_header_of_a_valid_file(tmp_path: Path) -> None:
    path = write_tiny_uvh5(
        tmp_path / "a.hdf5", timestamp="2025-10-02T00:12:00", subband_idx=3, dec_deg=16.3
    )
    facts = read_header(path)
    assert facts.dec_deg == pytest.approx(16.3)
    assert facts.n_freqs == 4
    assert facts.start_jd == pytest.approx(2460950.5 + 720 / 86400.0)
    assert facts.end_jd > facts.start_jd


def test_garbage_is_not_hdf5(tmp_path: Path) -> None:
    path = tmp_path / "x.hdf5"
    path.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(CorruptFileError, match="cannot open as HDF5"):
        read_header(path)


def test_truncated_file(tmp_path: Path) -> None:
    good = write_tiny_uvh5(tmp_path / "a.hdf5", timestamp="2025-10-02T00:12:00", subband_idx=0)
    data = good.read_bytes()
    bad = tmp_path / "b.hdf5"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptFileError):
        read_header(bad)


def test_missing_header_dataset(tmp_path: Path) -> None:
    path = tmp_path / "x.hdf5"
    with h5py.File(path, "w") as fh:
        fh["Header/time_array"] = np.array([2460000.5])
        fh["Header/freq_array"] = np.array([1.4e9])
    with pytest.raises(CorruptFileError, match="phase_center_dec"):
        read_header(path)


def test_declination_in_degrees_is_refused(tmp_path: Path) -> None:
    path = write_tiny_uvh5(tmp_path / "a.hdf5", timestamp="2025-10-02T00:12:00", subband_idx=0)
    with h5py.File(path, "r+") as fh:
        fh["Header/extra_keywords/phase_center_dec"][()] = 54.57
    with pytest.raises(CorruptFileError, match="not a declination"):
        read_header(path)
