"""Every catalog query equals a brute-force separation over ``sources``, whatever wrote
the rows: the catalog build, adoption of a spec-made database, plain INSERT / UPDATE /
DELETE / REPLACE by another program. Both backends (SQLite: the HEALPix copy and its
tracking triggers; PostgreSQL: q3c on the table itself)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from astropy.io import fits
from typer.testing import CliRunner

from contimg.catalog import index
from contimg.catalog.build import BuildInputs, build_catalog, insert_sources
from contimg.catalog.cone import cone_search
from contimg.catalog.footprint import sources_in_image
from contimg.cli import app
from contimg.config import Settings
from contimg.db import migrations
from contimg.db.engine import Database, open_database
from contimg.db.queries import cone_index as ci
from contimg.db.queries import sources as q
from contimg.errors import ContimgError
from contimg.science.crossmatch import angular_separation_deg
from tests import factories as f
from tests.db.spec_ddl import create_spec_sqlite

COLS = q.SOURCE_COLUMNS
# Regions holding the sources: across RA 0/360, both poles, and a mid-latitude patch.
CAPS = [(0.0, 0.0, 4.0), (0.0, 89.0, 3.0), (0.0, -89.0, 3.0), (200.0, 30.0, 4.0)]


def _rows(rng: np.random.Generator, n: int, prefix: str) -> list[tuple[Any, ...]]:
    """``n`` sources rows (COLS order) around the caps; some columns NULL."""
    out = []
    for i in range(n):
        ra0, dec0, r = CAPS[int(rng.integers(len(CAPS)))]
        d = float(np.clip(dec0 + rng.uniform(-r, r), -90, 90))
        a = float((ra0 + rng.uniform(-r, r) / max(np.cos(np.deg2rad(d)), 0.05)) % 360.0)
        s = float(rng.uniform(0.003, 0.3))
        snr = float(rng.uniform(3, 40))
        alpha = None if rng.random() < 0.3 else float(rng.uniform(-2, 1))
        out.append((f"{prefix}{i:05d}", a, d, s, snr, None, alpha, int(rng.random() < 0.1),
                    0, None, None, None))  # fmt: skip
    return out


def _truth(db: Database) -> list[tuple[Any, ...]]:
    """Every row of sources, straight from the table."""
    with db.read() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f"SELECT {', '.join(COLS)} FROM sources"))]


def _relation_ids(db: Database, relation: q.Relation) -> set[str]:
    with db.read() as conn:
        return set(q.relation_ids(conn, relation=relation))


def _random_cones(rng: np.random.Generator, n: int) -> list[tuple[float, float, float]]:
    cones = []
    for _ in range(n):
        ra0, dec0, r = CAPS[int(rng.integers(len(CAPS)))]
        d = float(np.clip(dec0 + rng.uniform(-r, r), -90, 90))
        a = float((ra0 + rng.uniform(-r, r)) % 360.0)
        cones.append((a, d, float(rng.choice([0.05, 0.3, 1.0, 1.75, 3.0, 6.0]))))
    cones.append((float(rng.uniform(0, 360)), float(rng.uniform(-90, 90)), 179.0))  # almost all
    return cones


def assert_matches_brute_force(db: Database, rng: np.random.Generator, n_cones: int = 40) -> None:
    """Random cones (all, a flux cut, the reference views) and an image footprint give
    exactly the rows a brute-force separation over ``sources`` gives."""
    rows = _truth(db)
    assert rows, "the test needs rows"
    ids = np.array([r[0] for r in rows])
    ra = np.array([r[1] for r in rows], dtype=float)
    dec = np.array([r[2] for r in rows], dtype=float)
    flux = np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=float)
    by_id = {r[0]: r for r in rows}
    final = _relation_ids(db, "final_references")
    n_nonempty = 0
    for ra0, dec0, r in _random_cones(rng, n_cones):
        inside = angular_separation_deg(ra0, dec0, ra, dec) <= r
        hits = cone_search(db, ra_deg=ra0, dec_deg=dec0, radius_deg=r)
        assert sorted(h.source_id for h in hits) == sorted(ids[inside]), (ra0, dec0, r)
        for h in hits:  # the row's current values, not an old copy
            assert tuple(h)[: len(COLS)] == by_id[h.source_id]
        n_nonempty += bool(hits)
        with np.errstate(invalid="ignore"):
            bright = inside & (flux >= 0.05)
        hits = cone_search(db, ra_deg=ra0, dec_deg=dec0, radius_deg=r, min_flux_mjy=50.0)
        assert sorted(h.source_id for h in hits) == sorted(ids[bright])
        hits = cone_search(db, ra_deg=ra0, dec_deg=dec0, radius_deg=r, relation="final_references")
        assert {h.source_id for h in hits} == set(ids[inside]) & final
    assert n_nonempty >= n_cones // 3
    # The image footprint: a 4 x 4 deg SIN image on the RA 0/360 cap.
    hdr = fits.Header()
    hdr.update(NAXIS=2, CTYPE1="RA---SIN", CTYPE2="DEC--SIN", CRVAL1=0.5, CRVAL2=0.5,
               CDELT1=-0.02, CDELT2=0.02, CRPIX1=101.0, CRPIX2=101.0)  # fmt: skip
    from astropy.wcs import WCS

    w = WCS(hdr)
    x, y = w.world_to_pixel_values(ra, dec)
    near = angular_separation_deg(0.5, 0.5, ra, dec) < 10
    on = near & (x >= -0.5) & (x < 199.5) & (y >= -0.5) & (y < 199.5)
    got = sources_in_image(db, wcs=hdr, shape=(200, 200))
    assert sorted(h.source_id for h, _, _ in got) == sorted(ids[on])


def _other_program(db: Database) -> Callable[[str, Any], None]:
    """Run SQL on the catalog as another program would: its own driver connection,
    no contimg code (sqlite3 / psycopg), autocommit per call."""
    if db.is_sqlite:

        def run(sql: str, params: Any = ()) -> None:
            con = sqlite3.connect(db.location)
            try:
                if isinstance(params, list):
                    con.executemany(sql, params)
                else:
                    con.execute(sql, params)
                con.commit()
            finally:
                con.close()

        return run
    url = db.engine.url.render_as_string(hide_password=False)
    engine = sa.create_engine(url)

    def run_pg(sql: str, params: Any = ()) -> None:
        sql = sql.replace("?", "%s").replace("INSERT OR REPLACE", "INSERT")
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur:
                cur.execute(f'SET search_path TO "{db.schema}", public')
                if isinstance(params, list):
                    cur.executemany(sql, params)
                else:
                    cur.execute(sql, params)

    return run_pg


def _root(settings: Settings) -> list[str]:
    args = ["--home", str(settings.home)]
    if settings.database_url:
        args += ["--database-url", settings.database_url]
    return args


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(2026)


@pytest.fixture
def built(settings: Settings, tmp_path: Path, rng: np.random.Generator) -> Iterator[Database]:
    """A catalog made by ``catalog build`` from an NVSS file."""
    rows = _rows(rng, 3000, "B")
    ra = np.array([r[1] for r in rows])
    dec = np.array([r[2] for r in rows])
    names = [f"X{i:05d}" for i in range(len(rows))]
    path = f.write_catalog(
        f.nvss_table(ra, dec, np.array([r[3] for r in rows]) * 1e3, 1.0, names=names),
        tmp_path / "nvss.fits",
    )
    db = open_database(settings, "master_sources", create_dirs=True)
    migrations.upgrade(db)
    build_catalog(settings, BuildInputs(path))
    yield db
    db.dispose()


def _adopted(settings: Settings, rows: list[tuple[Any, ...]]) -> Database:
    """A spec-made catalog with ``rows`` (no contimg version record), adopted."""
    db = open_database(settings, "master_sources", create_dirs=True)
    if db.is_sqlite:
        path = create_spec_sqlite(Path(db.location), "master_sources")
        con = sqlite3.connect(path)
        con.executemany(f"INSERT INTO sources VALUES ({', '.join('?' * len(COLS))})", rows)
        con.commit()
        con.close()
    else:
        migrations.upgrade(db, to="master_sources_0001")
        with db.write() as conn:
            conn.execute(sa.text("DROP TABLE alembic_version"))
        _other_program(db)(f"INSERT INTO sources VALUES ({', '.join('?' * len(COLS))})", rows)
    assert migrations.status(db).unversioned
    result = migrations.upgrade(db)
    assert result.adopted_at == "master_sources_0001"
    return db


def test_built_catalog(built: Database, rng: np.random.Generator) -> None:
    assert_matches_brute_force(built, rng)


def test_adopted_spec_catalog(settings: Settings, rng: np.random.Generator) -> None:
    db = _adopted(settings, _rows(rng, 3000, "A"))
    try:
        assert_matches_brute_force(db, rng)
        if db.is_sqlite:
            with db.read() as conn:
                assert ci.index_problems(conn) == ([], 0)
    finally:
        db.dispose()


def _write_like_another_program(db: Database, rng: np.random.Generator) -> None:
    """INSERT, UPDATE (moved positions and changed fluxes), DELETE, REPLACE/UPSERT."""
    run = _other_program(db)
    marks = ", ".join("?" * len(COLS))
    run(f"INSERT INTO sources VALUES ({marks})", _rows(rng, 400, "N"))
    truth = _truth(db)
    some = [truth[int(i)][0] for i in rng.choice(len(truth), 120, replace=False)]
    for sid in some[:40]:  # moved across the sky
        run("UPDATE sources SET ra_deg = ?, dec_deg = ? WHERE source_id = ?",
            (float(rng.uniform(0, 4)), float(rng.uniform(-3, 3)), sid))  # fmt: skip
    run("UPDATE sources SET s_nvss = s_nvss * 3, snr_nvss = 25 WHERE source_id = ?",
        [(s,) for s in some[40:80]])  # fmt: skip
    run("DELETE FROM sources WHERE source_id = ?", [(s,) for s in some[80:110]])
    run("UPDATE sources SET source_id = source_id || 'r' WHERE source_id = ?", (some[110],))
    moved = _rows(rng, 5, "M")
    if db.is_sqlite:
        # REPLACE deletes the old row without firing delete triggers.
        run(f"INSERT OR REPLACE INTO sources VALUES ({marks})",
            [(some[111 + i], *m[1:]) for i, m in enumerate(moved)])  # fmt: skip
    else:
        cols = ", ".join(COLS)
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLS[1:])
        upsert = (
            f"INSERT INTO sources ({cols}) VALUES ({marks}) ON CONFLICT (source_id) "
            f"DO UPDATE SET {sets}"
        )
        run(upsert, [(some[111 + i], *m[1:]) for i, m in enumerate(moved)])


def test_writes_by_another_program(built: Database, rng: np.random.Generator) -> None:
    _write_like_another_program(built, rng)
    assert_matches_brute_force(built, rng)
    if built.is_sqlite:
        with built.read() as conn:
            problems, pending = ci.index_problems(conn)
        assert problems == [] and pending > 400
        with built.write() as conn:
            assert index.sync_pending(conn) == pending
        with built.read() as conn:
            assert ci.index_problems(conn) == ([], 0)
        assert_matches_brute_force(built, rng, n_cones=15)


def test_writes_after_adoption_and_insert_sources(
    settings: Settings, rng: np.random.Generator
) -> None:
    db = _adopted(settings, _rows(rng, 1500, "A"))
    try:
        _write_like_another_program(db, rng)
        insert_sources(db, [dict(zip(COLS, r, strict=True)) for r in _rows(rng, 50, "I")])
        assert_matches_brute_force(db, rng)
    finally:
        db.dispose()


def test_many_pending_rows_are_folded_in(
    sqlite_settings: Settings, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the threshold, a search brings the copy up to date before reading it."""
    db = _adopted(sqlite_settings, _rows(rng, 500, "A"))
    monkeypatch.setattr(index, "SYNC_THRESHOLD", 100)
    _other_program(db)(f"INSERT INTO sources VALUES ({', '.join('?' * len(COLS))})",
                       _rows(rng, 300, "N"))  # fmt: skip
    with db.read() as conn:
        assert ci.pending_count(conn) == 300
    assert_matches_brute_force(db, rng, n_cones=10)
    with db.read() as conn:
        assert ci.index_problems(conn) == ([], 0)
    db.dispose()


def test_stale_index_is_refused_and_reindex_fixes_it(
    sqlite_settings: Settings, rng: np.random.Generator, tmp_path: Path
) -> None:
    """Triggers dropped by hand, rows written: searches refuse with the fix, db check
    reports it (non-zero exit), ``catalog reindex`` rebuilds and restores."""
    db = _adopted(sqlite_settings, _rows(rng, 800, "A"))
    run = _other_program(db)
    for name in ci.TRIGGER_NAMES:
        run(f"DROP TRIGGER {name}")
    run(f"INSERT INTO sources VALUES ({', '.join('?' * len(COLS))})", _rows(rng, 50, "N"))
    run("DELETE FROM sources WHERE source_id LIKE 'A000%'")
    with pytest.raises(ContimgError, match="contimg catalog reindex"):
        cone_search(db, ra_deg=0.0, dec_deg=0.0, radius_deg=3.0)
    runner = CliRunner()
    root = _root(sqlite_settings)
    out = runner.invoke(app, [*root, "db", "check", "--db", "master_sources"])
    assert out.exit_code == 1, out.output
    assert "triggers missing" in out.output and "contimg catalog reindex" in out.output
    assert "stale" in out.output
    out = runner.invoke(app, [*root, "catalog", "reindex"])
    assert out.exit_code == 0, out.output
    assert "rebuilt" in out.output
    assert_matches_brute_force(db, rng, n_cones=15)
    out = runner.invoke(app, [*root, "db", "check", "--db", "master_sources"])
    assert out.exit_code == 0, out.output
    db.dispose()


def test_null_source_id_from_another_program_is_refused(
    sqlite_settings: Settings, rng: np.random.Generator
) -> None:
    db = _adopted(sqlite_settings, _rows(rng, 20, "A"))
    with pytest.raises(sqlite3.IntegrityError, match="source_id must not be NULL"):
        _other_program(db)("INSERT INTO sources (source_id, ra_deg, dec_deg) VALUES (NULL, 1, 2)")
    db.dispose()


def test_cli_cone_on_adopted_catalog(settings: Settings, rng: np.random.Generator) -> None:
    """The user's report: ``catalog cone`` on an adopted catalog finds its sources."""
    rows = _rows(rng, 500, "A")
    db = _adopted(settings, rows)
    ra = np.array([r[1] for r in rows])
    dec = np.array([r[2] for r in rows])
    n = int((angular_separation_deg(0.0, 0.0, ra, dec) <= 2.0).sum())
    assert n > 0
    out = CliRunner().invoke(
        app, [*_root(settings), "catalog", "cone", "0", "0", "2", "--format", "csv"]
    )
    assert out.exit_code == 0, out.output
    assert len(out.output.strip().splitlines()) == n + 1
    db.dispose()


def test_the_migration_indexes_as_reindex_does(
    sqlite_settings: Settings, rng: np.random.Generator
) -> None:
    """master_sources_0003 keeps its own copy of the rebuild (pixels included): it writes
    the same copy, row for row, as ``catalog reindex --full``."""
    db = _adopted(sqlite_settings, _rows(rng, 2000, "A"))

    def copy() -> list[tuple[Any, ...]]:
        with db.read() as conn:
            return [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM sources_healpix")]

    made = copy()
    assert len(made) == 2000
    with db.write() as conn:
        assert index.reindex(conn, full=True) == ("rebuilt", 2000)
    assert copy() == made
    db.dispose()


def test_reindex_recreates_the_triggers_of_the_migration(sqlite_settings: Settings) -> None:
    """``catalog reindex`` re-creates exactly the triggers master_sources_0003 made."""
    db = open_database(sqlite_settings, "master_sources", create_dirs=True)
    migrations.upgrade(db)

    def triggers() -> list[tuple[str, str]]:
        with db.read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
            )
            return [(str(r[0]), str(r[1])) for r in rows]

    made = triggers()
    assert sorted(n for n, _ in made) == sorted(ci.TRIGGER_NAMES)
    with db.write() as conn:
        ci.drop_triggers(conn)
        assert ci.missing_triggers(conn) == list(ci.TRIGGER_NAMES)
        assert index.reindex(conn) == ("rebuilt", 0)
    assert triggers() == made
    db.dispose()
