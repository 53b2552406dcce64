"""Versioned migrations: round trips keep every row, adoption of spec-made databases,
refusal of unknown schemas, and clear errors for bad input."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from contimg.config import DATABASE_NAMES, Settings
from contimg.db import migrations
from contimg.db.engine import Databases, open_database
from contimg.errors import ContimgError, SchemaMismatchError
from tests.conftest import init_databases
from tests.factories import populate
from tests.helpers import dump

from .spec_ddl import spec_ddl


def test_every_history_is_linear_and_named_after_its_database() -> None:
    for name in DATABASE_NAMES:
        revs = migrations.history(name)
        assert revs[0] == f"{name}_0001"
        assert all(r.startswith(f"{name}_") for r in revs)
        assert migrations.head(name) == revs[-1]
        assert migrations.database_for_revision(revs[-1]) == name


def test_round_trip_keeps_every_row(settings: Settings) -> None:
    """upgrade -> downgrade (each step back to the baseline) -> upgrade: no row lost."""
    dbs = init_databases(settings)
    populate(dbs)
    before = dump(dbs)
    for name in DATABASE_NAMES:
        revs = migrations.history(name)
        for target in reversed(revs[:-1]):
            migrations.downgrade(dbs[name], to=target)
            assert migrations.status(dbs[name]).current == target
        migrations.upgrade(dbs[name])
        assert migrations.status(dbs[name]).pending == []
    assert dump(dbs) == before
    dbs.dispose()


def test_downgrade_to_base_and_back(settings: Settings) -> None:
    dbs = init_databases(settings)
    for name in DATABASE_NAMES:
        migrations.downgrade(dbs[name], to="base")
        assert migrations.status(dbs[name]).current is None
        migrations.upgrade(dbs[name])
        assert migrations.status(dbs[name]).current == migrations.head(name)
    dbs.dispose()


def _make_with_spec_ddl(settings: Settings, name: str) -> Path:
    path = settings.sqlite_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.executescript(spec_ddl()[name])
    con.close()
    return path


def test_adopts_a_database_made_from_the_spec_ddl(sqlite_settings: Settings) -> None:
    """A user's spec-made databases with rows are recognised, stamped and kept."""
    for name in DATABASE_NAMES:
        _make_with_spec_ddl(sqlite_settings, name)
    dbs = Databases(sqlite_settings)
    populate(dbs)
    before = dump(dbs)
    for name in DATABASE_NAMES:
        st = migrations.status(dbs[name])
        assert st.unversioned and st.current is None
        result = migrations.upgrade(dbs[name])
        assert result.adopted_at == migrations.baseline(name)
        assert migrations.status(dbs[name]).current == migrations.head(name)
    assert dump(dbs) == before
    dbs.dispose()


def test_adopts_on_postgresql(pg_url: str) -> None:
    """The same on PostgreSQL: a schema made without contimg's version record."""
    from tests.conftest import drop_pg_schemas

    drop_pg_schemas(pg_url)
    settings = Settings(database_url=pg_url)
    dbs = Databases(settings)
    for name in DATABASE_NAMES:
        migrations.upgrade(dbs[name], to=migrations.baseline(name))
        with dbs[name].write() as conn:
            conn.execute(sa.text("DROP TABLE alembic_version"))
    populate(dbs)
    before = dump(dbs)
    for name in DATABASE_NAMES:
        assert migrations.upgrade(dbs[name]).adopted_at == migrations.baseline(name)
    assert dump(dbs) == before
    dbs.dispose()
    drop_pg_schemas(pg_url)


def _digest(path: Path) -> str:
    """Digest of the full SQL dump (schema and every row) of a SQLite file."""
    con = sqlite3.connect(path)
    try:
        return hashlib.sha256("\n".join(con.iterdump()).encode()).hexdigest()
    finally:
        con.close()


def test_refuses_an_unknown_schema_and_leaves_it_untouched(sqlite_settings: Settings) -> None:
    path = _make_with_spec_ddl(sqlite_settings, "ingest")
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE ingest_queue ADD COLUMN priority INTEGER")
    con.execute("DROP INDEX idx_ingest_received")
    con.execute(
        "INSERT INTO ingest_queue(group_id, state, received_at, last_update) "
        "VALUES ('2025-10-02T00:00:00', 'pending', 1, 1)"
    )
    con.commit()
    con.close()
    digest = _digest(path)
    db = open_database(sqlite_settings, "ingest")
    with pytest.raises(SchemaMismatchError) as err:
        migrations.upgrade(db)
    message = str(err.value)
    assert str(path) in message
    assert "column priority is not expected" in message
    assert "index idx_ingest_received is missing" in message
    db.dispose()
    assert _digest(path) == digest


def test_unknown_revision_is_refused(sqlite_settings: Settings) -> None:
    db = open_database(sqlite_settings, "products", create_dirs=True)
    with pytest.raises(ContimgError, match="unknown revision 'products_9999'"):
        migrations.upgrade(db, to="products_9999")
    with pytest.raises(ContimgError, match="unknown revision"):
        migrations.database_for_revision("nope_0001")
    db.dispose()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "contimg", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_cli_errors_are_one_clear_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    corrupt = state / "ingest.sqlite3"
    corrupt.write_bytes(b"this is not a database" * 100)
    res = _cli("--state-dir", str(state), "db", "status", cwd=tmp_path)
    assert res.returncode != 0
    assert res.stderr.strip().count("\n") == 0
    assert str(corrupt) in res.stderr and "not a SQLite database" in res.stderr
    assert corrupt.read_bytes() == b"this is not a database" * 100

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    res = _cli("--home", str(blocker), "db", "init", cwd=tmp_path)
    assert res.returncode != 0
    assert str(blocker / "state") in res.stderr and "cannot create directory" in res.stderr

    res = _cli(
        "--home", str(tmp_path / "h"), "db", "downgrade", "--to", "ingest_0042", cwd=tmp_path
    )
    assert res.returncode != 0 and "unknown revision 'ingest_0042'" in res.stderr

    res = _cli("--home", str(tmp_path / "h"), "db", "status", "--db", "nope", cwd=tmp_path)
    assert res.returncode != 0 and "unknown database nope" in res.stderr
