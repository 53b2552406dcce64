"""Adoption refuses a spec-made database whose rows break the spec's constraints (or
the ones contimg's migrations add), naming the database, table and row, and changes
nothing."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from contimg.cli import app
from contimg.config import Settings
from contimg.db import migrations
from contimg.db.engine import open_database
from contimg.errors import ContimgError

from .spec_ddl import create_spec_sqlite


def _digest(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return hashlib.sha256("\n".join(con.iterdump()).encode()).hexdigest()
    finally:
        con.close()


def _spec_db(settings: Settings, name: str, sql: str) -> Path:
    path = create_spec_sqlite(settings.sqlite_path(name), name)
    con = sqlite3.connect(path)  # foreign keys off: what an old program did
    con.executescript(sql)
    con.commit()
    con.close()
    return path


PRODUCTS_OK = """
INSERT INTO ms_index(path, mid_mjd, stage, status) VALUES ('/p/a.ms', 60950.0, 'imaged', 'ok');
INSERT INTO images(path, ms_path, created_at, type) VALUES ('/p/a.fits', '/p/a.ms', 1.7e9, 'pbcor');
INSERT INTO photometry(image_path, source_id, ra_deg, dec_deg, peak_jyb, measured_at, mjd)
    VALUES ('/p/a.fits', 'NVSS J1', 10.0, 54.0, 0.05, 1.7e9, 60950.0);
"""

CASES = [
    (
        "products",
        PRODUCTS_OK
        + "INSERT INTO photometry(id, image_path, source_id, ra_deg, dec_deg, peak_jyb, "
        "measured_at) VALUES (17, '/p/gone.fits', 'NVSS J1', 10.0, 54.0, 0.05, 1.7e9);",
        [
            "table photometry, row id=17: image_path='/p/gone.fits' refers to images.path, "
            "which has no such row"
        ],
    ),
    (
        "ingest",
        "INSERT INTO ingest_queue(group_id, state, received_at, last_update) "
        "VALUES (NULL, 'pending', 1, 1);",
        ["table ingest_queue, row rowid=1, group_id=NULL: group_id is NULL (not allowed)"],
    ),
    (
        "master_sources",
        "INSERT INTO sources(source_id, ra_deg, dec_deg) VALUES ('NVSS J1', 1, 2), "
        "(NULL, 3, 4), ('NVSS J3', 'n/a', 5), ('NVSS J4', 6, 95);",
        [
            "table sources, row rowid=2, source_id=NULL: source_id is NULL (not allowed)",
            "table sources, row rowid=3, source_id='NVSS J3': ra_deg holds a non-number ('n/a')",
            "table sources, row rowid=4, source_id='NVSS J4': dec_deg is off the sky (95.0)",
        ],
    ),
    (
        "products",
        PRODUCTS_OK + "INSERT INTO variability_stats(source_id, ra_deg, dec_deg, updated_at) "
        "VALUES ('NVSS J1', 10, 54, 1);"
        + "INSERT INTO ese_candidates(source_id, flagged_at, significance, flag_type) "
        "VALUES ('NVSS J1', 1, 6, 'variability'), ('NVSS J1', 2, 7, 'variability');",
        [
            "table ese_candidates, rows with source_id='NVSS J1', flag_type='variability' "
            "where status = 'active': 2 rows share it"
        ],
    ),
    (
        "cal_registry",
        "INSERT INTO caltables(set_name, path, table_type, order_index, valid_start_mjd, "
        "valid_end_mjd, created_at) VALUES ('s', '/c/k', 'K', 0, 'soon', 60951, 1);",
        ["table caltables, row id=1: valid_start_mjd holds a non-number ('soon')"],
    ),
]


@pytest.mark.parametrize(("name", "sql", "expected"), CASES)
def test_bad_rows_are_refused_and_nothing_changes(
    sqlite_settings: Settings, name: str, sql: str, expected: list[str]
) -> None:
    path = _spec_db(sqlite_settings, name, sql)
    digest = _digest(path)
    db = open_database(sqlite_settings, name)
    with pytest.raises(ContimgError) as err:
        migrations.upgrade(db)
    message = str(err.value)
    assert f"cannot adopt the {name} database {path}" in message
    assert "nothing was changed" in message
    for line in expected:
        assert line in message, message
    assert _digest(path) == digest
    assert migrations.status(db).unversioned
    db.dispose()
    # the CLI: the same error, nothing changed
    out = CliRunner().invoke(
        app, ["--home", str(sqlite_settings.home), "db", "upgrade", "--db", name]
    )
    assert out.exit_code != 0 and isinstance(out.exception, ContimgError)
    assert expected[0] in str(out.exception)
    assert _digest(path) == digest


def test_bad_rows_on_postgresql(pg_url: str) -> None:
    """PostgreSQL enforces the spec's own constraints; contimg's additional uniqueness
    (one active ESE candidate per source and type) is checked the same way."""
    from tests.conftest import drop_pg_schemas

    drop_pg_schemas(pg_url)
    settings = Settings(database_url=pg_url)
    db = open_database(settings, "products")
    migrations.upgrade(db, to="products_0001")
    with db.write() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
        conn.execute(
            sa.text(
                "INSERT INTO variability_stats(source_id, ra_deg, dec_deg, updated_at) "
                "VALUES ('NVSS J1', 10, 54, 1)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO ese_candidates(source_id, flagged_at, significance, flag_type) "
                "VALUES ('NVSS J1', 1, 6, 'rapid_change'), ('NVSS J1', 2, 7, 'rapid_change')"
            )
        )
    with pytest.raises(ContimgError, match=r"flag_type='rapid_change'.*2 rows share it"):
        migrations.upgrade(db)
    assert migrations.status(db).unversioned
    with db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM ese_candidates")).scalar() == 2
    db.dispose()
    drop_pg_schemas(pg_url)
