"""Survey readers: the published layouts in FITS, CSV and VOTable, units, names,
column mapping, and errors that name the file and the column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.table import Table

from contimg.catalog.readers import (
    FIRST_FORMAT,
    NVSS_FORMAT,
    VLASS_FORMAT,
    iau_names,
    nvss_source_ids,
    read_survey,
)
from contimg.errors import ContimgError
from tests import factories as f


@pytest.mark.parametrize("suffix", [".fits", ".csv", ".vot"])
def test_all_three_surveys_in_each_format(tmp_path: Path, suffix: str) -> None:
    nv = read_survey(
        f.write_catalog(
            f.nvss_table([10.0, 359.5], [-20.0, 89.0], [100.0, 5.5], [1.0, 0.5]),
            tmp_path / f"n{suffix}",
        ),
        NVSS_FORMAT,
    )
    assert nv.ra_deg.tolist() == pytest.approx([10.0, 359.5])
    assert nv.dec_deg.tolist() == pytest.approx([-20.0, 89.0])
    assert nv.values["flux"].tolist() == pytest.approx([100.0, 5.5])
    assert nv.values["flux_err"].tolist() == pytest.approx([1.0, 0.5])
    assert nv.names == ["004000.0-200000", "235800.0+890000"]
    fi = read_survey(
        f.write_catalog(
            f.first_table([10.0], [-5.0], [7.5], [3.0], [20.0]), tmp_path / f"f{suffix}"
        ),
        FIRST_FORMAT,
    )
    assert fi.values["maj"].tolist() == pytest.approx([7.5])
    assert fi.values["min"].tolist() == pytest.approx([3.0])
    assert fi.values["pa"].tolist() == pytest.approx([20.0])
    vl = read_survey(
        f.write_catalog(f.vlass_table([1.0], [2.0], [3.25]), tmp_path / f"v{suffix}"), VLASS_FORMAT
    )
    assert vl.values["flux"].tolist() == pytest.approx([3.25])


@pytest.mark.parametrize("suffix", [".fits", ".vot"])
def test_file_units_are_honoured(tmp_path: Path, suffix: str) -> None:
    t = f.nvss_table([10.0], [20.0], [100.0], [1.0])
    t["S1.4"] = [0.1] * u.Jy
    t["e_S1.4"] = [1000.0] * u.uJy
    t["RAJ2000"] = [10.0 * 60] * u.arcmin
    t["DEJ2000"] = [20.0 * np.pi / 180] * u.rad
    nv = read_survey(f.write_catalog(t, tmp_path / f"n{suffix}"), NVSS_FORMAT)
    assert nv.values["flux"][0] == pytest.approx(100.0)
    assert nv.values["flux_err"][0] == pytest.approx(1.0)
    assert nv.ra_deg[0] == pytest.approx(10.0)
    assert nv.dec_deg[0] == pytest.approx(20.0)


def test_incompatible_unit_is_an_error(tmp_path: Path) -> None:
    t = f.vlass_table([1.0], [2.0], [3.0])
    t["Total_flux"] = [3.0] * u.deg
    path = f.write_catalog(t, tmp_path / "v.fits")
    with pytest.raises(ContimgError, match=r"v\.fits.*'Total_flux'.*deg.*mJy"):
        read_survey(path, VLASS_FORMAT)


def test_sexagesimal_text_positions(tmp_path: Path) -> None:
    path = tmp_path / "nvss.csv"
    path.write_text(
        "NVSS,RAJ2000,DEJ2000,S1.4,e_S1.4\n"
        "123456.7+420312,12 34 56.70,+42 03 12.0,10.5,0.5\n"
        "000001.0-100000,00 00 01.00,-10 00 00.0,3.0,0.4\n"
    )
    nv = read_survey(path, NVSS_FORMAT)
    assert nv.ra_deg.tolist() == pytest.approx([(12 + 34 / 60 + 56.7 / 3600) * 15, 1.0 / 240])
    assert nv.dec_deg.tolist() == pytest.approx([42 + 3 / 60 + 12 / 3600, -10.0])


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    t = f.nvss_table([10.0], [20.0], [100.0])
    t.remove_column("e_S1.4")
    for suffix in (".fits", ".csv", ".vot"):
        path = f.write_catalog(t, tmp_path / f"nvss{suffix}")
        with pytest.raises(ContimgError) as err:
            read_survey(path, NVSS_FORMAT)
        text = str(err.value)
        assert str(path) in text and "'e_S1.4'" in text and "S1.4" in text


def test_unreadable_and_absent_files(tmp_path: Path) -> None:
    junk = tmp_path / "nvss.fits"
    junk.write_bytes(b"this is not a FITS file at all" * 100)
    with pytest.raises(ContimgError, match=r"nvss\.fits.*cannot read"):
        read_survey(junk, NVSS_FORMAT)
    with pytest.raises(ContimgError, match=r"missing\.fits.*no such"):
        read_survey(tmp_path / "missing.fits", NVSS_FORMAT)
    odd = tmp_path / "nvss.txt"
    odd.write_text("x")
    with pytest.raises(ContimgError, match=r"nvss\.txt.*format"):
        read_survey(odd, NVSS_FORMAT)


def test_bad_positions_are_errors(tmp_path: Path) -> None:
    t = f.nvss_table([10.0, 11.0], [20.0, 21.0], [1.0, 2.0])
    t["DEJ2000"] = [20.0, 120.0] * u.deg
    with pytest.raises(ContimgError, match=r"DEJ2000.*beyond"):
        read_survey(f.write_catalog(t, tmp_path / "a.fits"), NVSS_FORMAT)
    t = Table(f.nvss_table([10.0, 11.0], [20.0, 21.0], [1.0, 2.0]), masked=True)
    t["RAJ2000"].mask = [False, True]
    with pytest.raises(ContimgError, match=r"rows \[1\].*no position"):
        read_survey(f.write_catalog(t, tmp_path / "b.fits"), NVSS_FORMAT)


def test_masked_flux_becomes_nan(tmp_path: Path) -> None:
    t = Table(f.nvss_table([10.0, 11.0], [20.0, 21.0], [1.0, 2.0]), masked=True)
    t["S1.4"].mask = [True, False]
    nv = read_survey(f.write_catalog(t, tmp_path / "n.fits"), NVSS_FORMAT)
    assert np.isnan(nv.values["flux"][0]) and nv.values["flux"][1] == 2.0


def test_column_mapping_and_case(tmp_path: Path) -> None:
    t = f.nvss_table([10.0], [20.0], [100.0])
    t.rename_column("S1.4", "S1400")
    t.rename_column("RAJ2000", "raj2000")  # case-insensitive fallback
    path = f.write_catalog(t, tmp_path / "n.fits")
    nv = read_survey(path, NVSS_FORMAT, columns={"flux": "S1400"})
    assert nv.values["flux"][0] == 100.0 and nv.ra_deg[0] == 10.0
    with pytest.raises(ContimgError, match="unknown nvss field"):
        read_survey(path, NVSS_FORMAT, columns={"fluxx": "S1400"})


def test_names_and_source_ids(tmp_path: Path) -> None:
    assert iau_names([188.73625, 0.0, 359.99999], [42.0533, -0.5, -89.9999]) == [
        "123456.7+420311",
        "000000.0-003000",
        "235959.9-895959",
    ]
    t = f.nvss_table([188.73625, 1.0, 2.0], [42.0533, 1.0, 2.0], [1.0, 2.0, 3.0], with_names=False)
    nv = read_survey(f.write_catalog(t, tmp_path / "n.csv"), NVSS_FORMAT)
    assert nv.names is None
    assert nvss_source_ids(nv)[0] == "NVSS J123456.7+420311"
    t = f.nvss_table(
        [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], names=["J000400.0+010000", "NVSS J1", ""]
    )
    nv = read_survey(f.write_catalog(t, tmp_path / "m.fits"), NVSS_FORMAT)
    assert nvss_source_ids(nv) == ["NVSS J000400.0+010000", "NVSS J1", "NVSS J001200.0+030000"]
