"""``contimg cal`` and the registry's SQL on both backends."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from contimg.calibration.lookup import lookup_set
from contimg.cli import app
from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.queries import calibration as cq


def _rows(mid: float, created: float) -> list[dict]:
    return [
        {
            "path": f"/cal/x_{mid}/{kind}.h5",
            "table_type": kind,
            "order_index": i,
            "valid_start_mjd": mid - 0.25,
            "valid_end_mjd": mid + 0.25,
            "created_at": created,
            "active": 1,
        }
        for i, kind in enumerate(("K", "BP", "G"))
    ]


def _args(settings: Settings) -> list[str]:
    args = ["--home", str(settings.home)]
    if settings.database_url:
        args += ["--database-url", settings.database_url]
    return args


def test_replace_set_lookup_and_activation(settings: Settings, dbs: Databases) -> None:
    with dbs.cal_registry.write() as conn:
        cq.replace_set(conn, set_name="a_100_0000", rows=_rows(100.0, 1.0))
        cq.replace_set(conn, set_name="b_100_0100", rows=_rows(100.1, 2.0))
        # Re-solving a transit replaces its rows.
        cq.replace_set(conn, set_name="a_100_0000", rows=_rows(100.0, 3.0))
    with dbs.cal_registry.read() as conn:
        assert len(cq.all_rows(conn)) == 6
    chosen = lookup_set(dbs, settings, mjd=100.05)
    assert chosen is not None and chosen.set_name == "a_100_0000"  # created last
    with dbs.cal_registry.write() as conn:
        assert cq.set_active(conn, set_name="a_100_0000", active=False) == 3
    chosen = lookup_set(dbs, settings, mjd=100.05)
    assert chosen is not None and chosen.set_name == "b_100_0100"
    assert lookup_set(dbs, settings, mjd=101.5) is None

    runner = CliRunner()
    out = runner.invoke(app, [*_args(settings), "cal", "list"])
    assert out.exit_code == 0, out.output
    assert "a_100_0000  (inactive)" in out.output and "b_100_0100  (active)" in out.output
    out = runner.invoke(app, [*_args(settings), "cal", "which", "--mjd", "100.4"])
    assert out.exit_code == 0, out.output
    assert "b_100_0100  (extrapolated" in out.output
    out = runner.invoke(app, [*_args(settings), "cal", "activate", "a_100_0000"])
    assert out.exit_code == 0 and "activated (3 tables)" in out.output
    out = runner.invoke(app, [*_args(settings), "cal", "deactivate", "nope"])
    assert out.exit_code == 1 and "no calibration set named 'nope'" in str(out.exception)
    out = runner.invoke(app, [*_args(settings), "cal", "which", "--mjd", "90"])
    assert out.exit_code == 1 and "no active calibration set covers MJD 90" in str(out.exception)


@pytest.mark.parametrize("ms", ["missing.ms"])
def test_solve_refuses_an_unknown_ms(settings: Settings, dbs: Databases, ms: str) -> None:
    out = CliRunner().invoke(app, [*_args(settings), "cal", "solve", ms])
    assert out.exit_code == 1 and "not a converted Measurement Set" in str(out.exception)
