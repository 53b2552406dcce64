"""The databases `contimg db` makes have exactly the specification's schema.

Reference databases are built by executing the spec's own DDL text; every
``PRAGMA table_info / index_list / index_info / foreign_key_list`` result and every
view definition is compared with what contimg made.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from contimg.cli import app
from contimg.config import SQLITE_FILES
from contimg.db import migrations

from .spec_ddl import COPY, parse_spec, spec_ddl, spec_path

DATABASES = list(SQLITE_FILES)


def snapshot(path: Path) -> dict[str, Any]:
    """Every PRAGMA-level fact of a SQLite database, keyed by object name."""
    con = sqlite3.connect(path)
    try:
        objects = con.execute(
            "SELECT type, name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' AND name != 'alembic_version'"
        ).fetchall()
        out: dict[str, Any] = {"tables": {}, "views": {}}
        for kind, name, sql in objects:
            if kind == "table":
                indexes = {}
                for _seq, iname, unique, origin, partial in con.execute(
                    f"PRAGMA index_list('{name}')"
                ):
                    indexes[iname] = {
                        "unique": unique,
                        "origin": origin,
                        "partial": partial,
                        "columns": con.execute(f"PRAGMA index_info('{iname}')").fetchall(),
                    }
                out["tables"][name] = {
                    "table_info": con.execute(f"PRAGMA table_info('{name}')").fetchall(),
                    "indexes": indexes,
                    "foreign_keys": con.execute(f"PRAGMA foreign_key_list('{name}')").fetchall(),
                    "autoincrement": "AUTOINCREMENT" in sql.upper(),
                }
            elif kind == "view":
                out["views"][name] = {
                    "sql": re.sub(r"\s+", " ", sql).strip(),
                    "table_info": con.execute(f"PRAGMA table_info('{name}')").fetchall(),
                }
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Snapshots of databases made by executing the spec's DDL."""
    root = tmp_path_factory.mktemp("spec")
    snaps = {}
    for name, ddl in spec_ddl().items():
        path = root / f"{name}.sqlite3"
        con = sqlite3.connect(path)
        con.executescript(ddl)
        con.close()
        snaps[name] = snapshot(path)
    return snaps


def _run(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output


def test_spec_copy_matches_spec() -> None:
    path = spec_path()
    if path is None:
        pytest.skip("the specification is not beside this checkout; using the copy")
    assert parse_spec(path.read_text(encoding="utf-8")) == spec_ddl()
    import json

    assert json.loads(COPY.read_text(encoding="utf-8")) == spec_ddl()


def test_reference_has_every_spec_object(reference: dict[str, dict[str, Any]]) -> None:
    tables = {n for snap in reference.values() for n in snap["tables"]}
    assert tables == {
        "ingest_queue", "subband_files", "performance_metrics", "ms_index", "images",
        "photometry", "variability_stats", "ese_candidates", "mosaics", "caltables", "sources",
    }  # fmt: skip
    assert set(reference["master_sources"]["views"]) == {"good_references", "final_references"}


@pytest.mark.parametrize("name", DATABASES)
def test_baseline_is_exactly_the_spec(
    name: str, tmp_path: Path, reference: dict[str, dict[str, Any]]
) -> None:
    """At its baseline revision each database equals the spec, PRAGMA for PRAGMA."""
    state = tmp_path / "state"
    _run("--state-dir", str(state), "db", "upgrade", "--to", migrations.baseline(name))
    made = snapshot(state / SQLITE_FILES[name])
    assert made == reference[name]
    con = sqlite3.connect(state / SQLITE_FILES[name])
    extra = {
        n
        for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
        if n not in made["tables"] and n != "sqlite_sequence"
    }
    con.close()
    assert extra == {"alembic_version"}, "the only extra table is the version table"


@pytest.mark.parametrize("name", DATABASES)
def test_init_keeps_every_spec_object_unchanged(
    name: str, tmp_path: Path, reference: dict[str, dict[str, Any]]
) -> None:
    """`contimg db init` (head) keeps every spec object as the spec defines it.

    Later migrations may only append columns to spec tables and add new objects
    (docs/migrations.md); they never change what the spec defines.
    """
    state = tmp_path / "state"
    _run("--state-dir", str(state), "db", "init")
    made = snapshot(state / SQLITE_FILES[name])
    ref = reference[name]
    for table, expected in ref["tables"].items():
        got = made["tables"][table]
        n = len(expected["table_info"])
        assert got["table_info"][:n] == expected["table_info"], table
        for added in got["table_info"][n:]:
            assert added[3] == 0 or added[4] is not None, (
                f"{table}.{added[1]}: NOT NULL needs a default"
            )
        for iname, idx in expected["indexes"].items():
            assert got["indexes"][iname] == idx, f"{table}: index {iname}"
        assert got["foreign_keys"] == expected["foreign_keys"], table
        assert got["autoincrement"] == expected["autoincrement"], table
    for view, expected in ref["views"].items():
        assert made["views"][view]["sql"] == expected["sql"]
