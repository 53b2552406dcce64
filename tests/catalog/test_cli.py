"""``contimg catalog build | cone | info`` through the real command, on both backends."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contimg.cli import app
from contimg.config import Settings
from contimg.errors import ContimgError
from tests.catalog.conftest import KnownCatalog


def _root_args(settings: Settings) -> list[str]:
    args = ["--home", str(settings.home)]
    if settings.database_url:
        args += ["--database-url", settings.database_url]
    return args


def _run(settings: Settings, *args: str) -> str:
    result = CliRunner().invoke(app, [*_root_args(settings), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.stdout


def test_build_cone_info(settings: Settings, known: KnownCatalog) -> None:
    out = _run(
        settings,
        "catalog", "build", "--nvss", str(known.nvss), "--first", str(known.first),
        "--vlass", str(known.vlass), "--radius-arcsec", "7.5",
    )  # fmt: skip
    assert f"final_references    {len(known.final):>10,}" in out

    rows = json.loads(_run(settings, "catalog", "cone", "150.4", "30", "1.2", "--format", "json"))
    ids = [r["source_id"] for r in rows]
    assert ids == ["NVSS J100000.0+300000", "NVSS J100400.0+300000"]  # nearest first
    assert rows[1]["alpha"] == pytest.approx(-0.7)
    assert rows[0]["sep_deg"] == pytest.approx(0.4 * 0.866, rel=2e-3)

    text = _run(settings, "catalog", "cone", "0", "10", "0.1", "--format", "csv")
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["source_id"] == "NVSS J235959.8+100000" and float(row["s_nvss"]) == 0.03
    assert row["first_size_maj_arcsec"] == ""

    table = _run(settings, "catalog", "cone", "155", "30", "2.5", "--min-flux-mjy", "40")
    assert "NVSS J102000.0+300000" in table and "(5 sources)" in table
    assert "NVSS J103600.0+300000" not in table  # 8 mJy

    south = json.loads(_run(settings, "catalog", "cone", "10", "-89.9", "1", "--format", "json"))
    assert south == []
    final = json.loads(
        _run(settings, "catalog", "cone", "155", "30", "6", "--from", "final", "--format", "json")
    )
    assert {r["source_id"] for r in final} == {s for s in known.final if "+3000" in s}

    info = json.loads(_run(settings, "catalog", "info", "--format", "json"))
    assert info["counts"]["sources"] == len(known.expected)
    assert info["counts"]["good_references"] == len(known.good)
    assert info["build"]["vlass_path"] == str(known.vlass.resolve())
    assert "final_references" in _run(settings, "catalog", "info")


def test_errors_are_one_line_and_exit_1(sqlite_settings: Settings, tmp_path: Path) -> None:
    """The installed command prints one 'error:' line naming the file and column."""
    bad = tmp_path / "nvss.csv"
    bad.write_text("RA,DEC\n1,2\n")
    exe = Path(sys.executable).parent / "contimg"
    home = str(sqlite_settings.home)
    proc = subprocess.run(
        [str(exe), "--home", home, "catalog", "build", "--nvss", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(bad) in errors[0] and "'RAJ2000'" in errors[0]
    assert not sqlite_settings.sqlite_path("master_sources").exists()
    with pytest.raises(ContimgError, match="no master catalog"):
        _run(sqlite_settings, "catalog", "cone", "1", "2", "3")
    with pytest.raises(ContimgError, match="no master catalog"):
        _run(sqlite_settings, "catalog", "info")
