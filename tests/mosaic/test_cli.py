"""``contimg mosaic``: build, list, windows, schedule --once, and clear errors."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from contimg.cli import app
from contimg.config import Settings
from contimg.db.engine import Databases
from tests.factories import mosaic as synth

START = 61000.0  # 2025-11-21T00:00:00 UTC
TINY = synth.SynthConfig(
    n_px=48, cell_arcsec=360.0, beam_major_arcsec=1800.0, beam_minor_arcsec=1200.0
)


def _root_args(settings: Settings) -> list[str]:
    args = ["--home", str(settings.home)]
    if settings.database_url:
        args += ["--database-url", settings.database_url]
    return args


def test_build_list_schedule_windows(dbs: Databases, settings: Settings, tmp_path: Path) -> None:
    groups = synth.drift_groups(
        tmp_path / "img",
        start_mjd=START,
        n_groups=14,
        ra0_deg=40.0,
        sources=[synth.Source(42.0, 54.57, 0.5)],
        seed=9,
        cfg=TINY,
    )
    with dbs.products.write() as conn:
        synth.record_groups(conn, groups)
    with dbs.ingest.write() as conn:
        synth.record_queue(conn, groups, state="completed", received_at=1.0)
    runner = CliRunner()
    root = _root_args(settings)

    result = runner.invoke(
        app,
        [*root, "mosaic", "build", "--start", "2025-11-21T00:00:00", "--end",
         "2025-11-21 00:30", "--dec-min", "50", "--dec-max", "60", "--name", "first half hour"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "first half hour: 6 images" in result.stdout
    assert "[6/6]" in result.stderr  # progress
    assert (settings.products_path / "mosaics" / "first-half-hour.png").exists()

    result = runner.invoke(app, [*root, "mosaic", "list"])
    assert result.exit_code == 0, result.output
    assert "first half hour" in result.stdout

    result = runner.invoke(app, [*root, "mosaic", "schedule", "--once", "--id", "t1"])
    assert result.exit_code == 0, result.output
    assert "built  2025-11-20T23:52:09/LST20:00:00+3600s/dec+54.6" in result.stdout  # LST
    result = runner.invoke(app, [*root, "mosaic", "schedule", "--once", "--id", "t2"])
    assert "built" not in result.stdout

    result = runner.invoke(app, [*root, "mosaic", "windows"])
    assert result.exit_code == 0, result.output
    assert "2025-11-21T00:51:59/LST21:00:00+3600s/dec+54.6" in result.stdout
    assert "done" in result.stdout


def test_errors_are_one_clear_line(dbs: Databases, settings: Settings) -> None:
    runner = CliRunner()
    root = _root_args(settings)
    result = runner.invoke(
        app, [*root, "mosaic", "build", "--start", "yesterday", "--end", "2025-11-21"]
    )
    assert result.exit_code != 0
    assert "--start 'yesterday' is not a time" in str(result.exception)
    result = runner.invoke(
        app, [*root, "mosaic", "build", "--start", "2025-11-21", "--end", "2025-11-21T01:00"]
    )
    assert "no primary-beam-corrected images observed between" in str(result.exception)


def test_help_is_fast_and_complete() -> None:
    result = CliRunner().invoke(app, ["mosaic", "schedule", "--help"])
    assert result.exit_code == 0
    assert "--once" in result.stdout
