"""Databases made from the spec's DDL with rows, adopted with ``db upgrade``, feed the
pipeline: photometry reaches light curves and variability statistics, groups left
in progress by a dead old-pipeline process are recovered, calibration sets are
found by the lookup. Through the CLI and the API, on both backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from contimg.api import create_app
from contimg.cli import app
from contimg.config import Settings
from contimg.db import migrations
from contimg.db.engine import open_database
from tests.api.testclient import TestClient

from .spec_ddl import create_spec_sqlite, spec_ddl

API = "/api/v1"


def _root(settings: Settings) -> list[str]:
    args = ["--home", str(settings.home)]
    if settings.database_url:
        args += ["--database-url", settings.database_url]
    return args


def _cli(settings: Settings, *args: str, code: int = 0) -> str:
    out = CliRunner().invoke(app, [*_root(settings), *args])
    if out.exception is not None and not isinstance(out.exception, SystemExit):
        raise out.exception
    assert out.exit_code == code, out.output
    return out.output


def _spec_made(settings: Settings, name: str, statements: list[str]) -> None:
    """Database ``name`` as a user without contimg made it: the spec's DDL, then rows."""
    db = open_database(settings, name, create_dirs=True)
    try:
        if db.is_sqlite:
            path = create_spec_sqlite(Path(db.location), name)
            con = sqlite3.connect(path)
            for s in statements:
                con.execute(s)
            con.commit()
            con.close()
        else:  # the spec's schema translated to PostgreSQL, without a version record
            migrations.upgrade(db, to=migrations.baseline(name))
            with db.write() as conn:
                conn.execute(sa.text("DROP TABLE alembic_version"))
                for s in statements:
                    conn.execute(sa.text(s))
        assert migrations.status(db).unversioned
    finally:
        db.dispose()


SOURCES = ["NVSS J010000+540000", "NVSS J010100+540000", "NVSS J010200+540000"]


def _products_rows(base: Path, n_epochs: int = 8) -> list[str]:
    out = []
    for e in range(n_epochs):
        mjd = 60950.0 + e * 0.5
        ms, img = base / f"{e}.ms", base / f"{e}.pbcor.fits"
        ms.mkdir(parents=True)
        img.write_bytes(b"")  # the files exist; their content is not read here
        out.append(
            f"INSERT INTO ms_index(path, mid_mjd, stage, status) "
            f"VALUES ('{ms}', {mjd}, 'photometry_complete', 'ok')"
        )
        out.append(
            f"INSERT INTO images(path, ms_path, created_at, type, noise_jy, field_name) "
            f"VALUES ('{img}', '{ms}', {1.7e9 + e}, 'pbcor', 0.001, 'F{e}')"
        )
        for i, sid in enumerate(SOURCES):
            # the third source flares: 50 mJy, then 150 mJy in the last two epochs
            flux = 0.05 * (i + 1) if not (i == 2 and e >= n_epochs - 2) else 0.45
            out.append(
                "INSERT INTO photometry(image_path, source_id, ra_deg, dec_deg, nvss_flux_mjy, "
                "peak_jyb, peak_err_jyb, snr, measured_at, mjd, flags) VALUES "
                f"('{img}', '{sid}', {15.0 + i / 60}, 54.0, {50.0 * (i + 1)}, {flux}, 0.002, "
                f"{flux / 0.002}, {1.7e9 + e}, {mjd}, 0)"
            )
    # statistics the old pipeline left (stale: one measurement each)
    for i, sid in enumerate(SOURCES):
        out.append(
            "INSERT INTO variability_stats(source_id, ra_deg, dec_deg, n_obs, updated_at) "
            f"VALUES ('{sid}', {15.0 + i / 60}, 54.0, 1, 1.6e9)"
        )
    return out


def test_adopted_products_feed_light_curves_and_variability(
    settings: Settings, tmp_path: Path
) -> None:
    _spec_made(settings, "products", _products_rows(tmp_path / "old"))
    out = _cli(settings, "db", "upgrade", "--db", "products")
    assert "adopted existing schema as products_0001" in out
    assert "fix: contimg variability recompute" in out
    # db check: the photometry has no running state yet; the fix is named
    out = _cli(settings, "db", "check", "--db", "products", code=1)
    assert "3 sources have photometry but no variability state" in out
    assert "contimg variability recompute" in out
    out = _cli(settings, "variability", "recompute")
    assert "3 sources with statistics" in out
    _cli(settings, "db", "check", "--db", "products")
    _cli(settings, "db", "init")  # the other three databases, for the API
    with TestClient(create_app(settings, events=False)) as client:
        for i, sid in enumerate(SOURCES):
            r = client.get(f"{API}/sources/{sid}/lightcurve")
            assert r.status_code == 200, r.text
            points = r.json()["points"]
            assert len(points) == 8
            assert [p["mjd"] for p in points] == sorted(p["mjd"] for p in points)
            detail = client.get(f"{API}/sources/{sid}").json()
            assert "variability" in detail, detail
            assert detail["variability"]["n_obs"] == 8
            if i < 2:  # constant
                assert detail["variability"]["mean_flux_mjy"] == pytest.approx(50.0 * (i + 1))
        flare = client.get(f"{API}/sources/{SOURCES[2]}").json()["variability"]
        assert flare["max_flux_mjy"] == pytest.approx(450.0)
        assert flare["chi2_nu"] > 100


def test_adopted_ingest_queue_recovers_groups_of_a_dead_process(settings: Settings) -> None:
    """An ``in_progress`` group with no lease (left by the old pipeline's dead process)
    goes back to pending at the next worker claim and is then processed."""
    rows = []
    for gid, state in (
        ("2025-10-02T00:00:00", "in_progress"),
        ("2025-10-02T00:05:09", "completed"),
    ):
        rows.append(
            "INSERT INTO ingest_queue(group_id, state, received_at, last_update) "
            f"VALUES ('{gid}', '{state}', 1.7e9, 1.7e9)"
        )
        rows += [
            "INSERT INTO subband_files(group_id, subband_idx, file_path, discovered_at) "
            f"VALUES ('{gid}', {sb}, '/in/{gid}_sb{sb:02d}.hdf5', 1.7e9)"
            for sb in range(16)
        ]
    _spec_made(settings, "ingest", rows)
    _cli(settings, "db", "upgrade", "--db", "ingest")
    out = _cli(settings, "db", "check", "--db", "ingest")
    assert "1 groups are in progress without a live worker lease" in out
    _cli(settings, "db", "init")
    with TestClient(create_app(settings, events=False)) as client:
        g = client.get(f"{API}/groups/2025-10-02T00:00:00").json()["group"]
        assert g["state"] == "in_progress"
    _cli(settings, "worker", "--drain", "--no-builtin-stages")
    out = _cli(settings, "queue", "show", "2025-10-02T00:00:00")
    assert "completed" in out
    with TestClient(create_app(settings, events=False)) as client:
        g = client.get(f"{API}/groups/2025-10-02T00:00:00").json()["group"]
        assert g["state"] == "completed"
        assert g["retry_count"] == 1  # the lost attempt counts
    out = _cli(settings, "db", "check", "--db", "ingest")
    assert "without a live worker lease" not in out


def test_adopted_cal_registry_sets_are_found(settings: Settings, tmp_path: Path) -> None:
    rows = []
    for i, kind in enumerate(("K", "BP", "G")):
        path = tmp_path / f"3C286_60950.5.{kind}"
        path.mkdir()
        rows.append(
            "INSERT INTO caltables(set_name, path, table_type, order_index, valid_start_mjd, "
            f"valid_end_mjd, created_at) VALUES ('3C286_60950.5', '{path}', '{kind}', {i}, "
            "60950.0, 60951.0, 1.7e9)"
        )
    _spec_made(settings, "cal_registry", rows)
    _cli(settings, "db", "upgrade", "--db", "cal_registry")
    _cli(settings, "db", "check", "--db", "cal_registry")
    _cli(settings, "db", "init")
    out = _cli(settings, "cal", "which", "--mjd", "60950.5")
    assert "3C286_60950.5  (covering)" in out
    assert out.count(str(tmp_path)) == 3
    with TestClient(create_app(settings, events=False)) as client:
        r = client.get(f"{API}/calibration/applicable", params={"mjd": 60950.5}).json()
        assert r["set"]["set_name"] == "3C286_60950.5" and not r["extrapolated"]
    # a table removed from disk: db check names the set and the fix
    (tmp_path / "3C286_60950.5.G").rmdir()
    out = _cli(settings, "db", "check", "--db", "cal_registry", code=1)
    assert "contimg cal deactivate 3C286_60950.5" in out


def test_spec_ddl_is_the_spec() -> None:
    assert "CREATE TABLE IF NOT EXISTS photometry" in spec_ddl()["products"]
