"""contimg photometry measure / variability recompute / ese commands."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from contimg.cli import app
from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.products import ese_candidates, variability_stats
from contimg.stages.photometry import PhotometryStage
from tests.factories import context, make_field, write_epoch, write_synth_fits
from tests.factories.images import make_image


def _root(settings: Settings) -> list[str]:
    args = ["--home", str(settings.home)]
    if settings.database_url:
        args += ["--database-url", settings.database_url]
    return args


def test_measure_json_and_csv(tmp_path: Path) -> None:
    im = make_image(
        n_pix=128,
        positions_px=np.array([[64.0, 64.0], [30.0, 90.0]]),
        fluxes_jyb=np.array([0.05, 0.02]),
        seed=4,
    )
    image = write_synth_fits(tmp_path / "img.fits", im)
    src = tmp_path / "src.csv"
    src.write_text(
        "source_id,ra_deg,dec_deg\n"
        + "".join(f"S{k},{im.ra_deg[k]},{im.dec_deg[k]}\n" for k in range(2))
    )
    runner = CliRunner()
    res = runner.invoke(
        app, ["photometry", "measure", "--image", str(image), "--sources", str(src)]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [o["source_id"] for o in out] == ["S0", "S1"]
    assert set(out[0]) == {
        "source_id",
        "ra_deg",
        "dec_deg",
        "peak_jyb",
        "peak_err_jyb",
        "snr",
        "flags",
    }
    assert out[0]["peak_jyb"] == pytest.approx(0.05, abs=5 * out[0]["peak_err_jyb"])
    res = runner.invoke(
        app,
        ["photometry", "measure", "--image", str(image), "--sources", str(src), "--format", "csv"],
    )
    assert res.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert rows[1]["source_id"] == "S1" and float(rows[1]["snr"]) > 5
    bad = tmp_path / "bad.csv"
    bad.write_text("name,ra,dec\nx,1,2\n")
    res = runner.invoke(
        app, ["photometry", "measure", "--image", str(image), "--sources", str(bad)]
    )
    assert res.exit_code != 0 and "source_id, ra_deg, dec_deg" in str(res.exception)


def test_recompute_and_ese_workflow(settings: Settings, dbs: Databases, tmp_path: Path) -> None:
    f = make_field(dbs, n_ref=12)
    scales = [1.0, 1.02, 0.98, 1.01, 0.99, 1.0, 1.0]
    for k, s in enumerate(scales):
        write_epoch(dbs, tmp_path / "p", f, epoch=k, scale=s, dip=0.5 if k >= 5 else 1.0)
        PhotometryStage().run(context(settings, dbs, tmp_path / "p", epoch=k))
    runner = CliRunner()
    with dbs.products.write() as conn:  # wipe the statistics' values: recompute restores them
        before = {
            r["source_id"]: r["chi2_nu"]
            for r in conn.execute(sa.select(variability_stats)).mappings()
        }
        conn.execute(variability_stats.update().values(chi2_nu=None))
    res = runner.invoke(app, [*_root(settings), "variability", "recompute"])
    assert res.exit_code == 0, res.output
    with dbs.products.read() as conn:
        after = {
            r["source_id"]: r["chi2_nu"]
            for r in conn.execute(sa.select(variability_stats)).mappings()
        }
    assert after.keys() == before.keys()
    assert all(after[k] == pytest.approx(before[k], rel=1e-9) for k in before)

    res = runner.invoke(app, [*_root(settings), "ese", "list", "--json"])
    auto = json.loads(res.stdout)
    assert auto and all(c["source_id"] == f.dip_id for c in auto)
    # the text view says why: the rule, its significance against this light curve's threshold
    res = runner.invoke(app, [*_root(settings), "ese", "show", str(auto[0]["id"])])
    assert res.exit_code == 0, res.output
    why = res.stdout.split("why flagged:")[1].split("notes:")[0]
    assert f"rule {auto[0]['flag_type']}" in why and ">= threshold" in why, res.stdout

    quiet = f.ids[0]
    res = runner.invoke(
        app, [*_root(settings), "ese", "flag", quiet, "--note", "odd shape", "--by", "ana"]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app, [*_root(settings), "ese", "flag", quiet, "--note", "still odd", "--by", "bo"]
    )
    with dbs.products.read() as conn:
        user = [
            dict(r)
            for r in conn.execute(
                sa.select(ese_candidates).where(ese_candidates.c.flag_type == "user")
            ).mappings()
        ]
    assert len(user) == 1 and user[0]["flagged_by"] == "ana"
    cid = user[0]["id"]
    assert user[0]["notes"].count("\n") == 1 and "odd shape" in user[0]["notes"]

    for st, note in (
        ("investigated", "looked"),
        ("false_positive", "sidelobe"),
        ("active", "reopened"),
    ):
        res = runner.invoke(
            app, [*_root(settings), "ese", "status", str(cid), st, "--note", note, "--by", "ana"]
        )
        assert res.exit_code == 0, res.output
    res = runner.invoke(app, [*_root(settings), "ese", "status", str(cid), "active", "--note", "x"])
    assert res.exit_code != 0 and "cannot move" in str(res.exception)
    res = runner.invoke(app, [*_root(settings), "ese", "show", str(cid), "--json"])
    shown = json.loads(res.stdout)["candidate"]
    assert shown["status"] == "active"
    assert shown["investigated_at"] is not None and shown["dismissed_at"] is not None
    lines = shown["notes"].splitlines()
    assert len(lines) == 5 and "investigated->dismissed" in lines[3] and "sidelobe" in lines[3]
    res = runner.invoke(app, [*_root(settings), "ese", "show", "99999"])
    assert res.exit_code != 0 and "99999" in str(res.exception)
    res = runner.invoke(app, [*_root(settings), "ese", "flag", "NVSS NOPE", "--note", "x"])
    assert res.exit_code != 0 and "NVSS NOPE" in str(res.exception)
