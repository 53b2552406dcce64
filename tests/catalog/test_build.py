"""The master-catalog build on both backends: known answers, the spec's views,
optional partners, atomicity and the schema version record."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import sqlalchemy as sa

from contimg.catalog.build import BuildInputs, build_catalog, parse_column_overrides
from contimg.config import Settings
from contimg.db import migrations
from contimg.db.engine import Database, open_database
from contimg.db.master_sources import sources
from contimg.db.queries import sources as q
from contimg.errors import ContimgError
from tests import factories as f
from tests.catalog.conftest import KnownCatalog, build_known


def _rows(db: Database) -> dict[str, dict[str, object]]:
    with db.read() as conn:
        return {r["source_id"]: dict(r) for r in conn.execute(sa.select(sources)).mappings()}


def _open(settings: Settings) -> Database:
    return open_database(settings, "master_sources")


def _close(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]


def _check_known(db: Database, known: KnownCatalog) -> None:
    rows = _rows(db)
    assert set(rows) == set(known.expected)
    for sid, exp in known.expected.items():
        for col, value in exp.items():
            assert _close(rows[sid][col], value), (sid, col, rows[sid][col], value)
    with db.read() as conn:
        assert set(q.relation_ids(conn, relation="good_references")) == known.good
        assert set(q.relation_ids(conn, relation="final_references")) == known.final


def _leftovers(settings: Settings) -> list[str]:
    """Scratch files or staging schemas a build left behind."""
    if settings.backend == "sqlite":
        parent = settings.sqlite_path("master_sources").parent
        return [p.name for p in parent.iterdir() if p.name.startswith(".catalog-build-")]
    db = _open(settings)
    try:
        with db.read() as conn:
            return q.pg_stale_build_schemas(conn, prefix="master_sources__")
    finally:
        db.dispose()


def test_known_answers_and_views(settings: Settings, known: KnownCatalog) -> None:
    report = build_catalog(settings, BuildInputs(known.nvss, known.first, known.vlass))
    assert report.n_nvss == len(known.expected)
    assert report.counts["good_references"] == len(known.good)
    assert report.counts["final_references"] == len(known.final)
    db = _open(settings)
    try:
        _check_known(db, known)
        assert migrations.status(db).current == migrations.head("master_sources")
        with db.read() as conn:
            build = q.latest_build(conn)
        assert build is not None
        assert build.match_radius_arcsec == 7.5
        assert build.n_nvss == len(known.expected)
    finally:
        db.dispose()
    assert _leftovers(settings) == []


def test_rebuild_over_existing_catalog(dbs: object, settings: Settings, tmp_path: Path) -> None:
    """The second build replaces the first completely (the swap path)."""
    first_set = tmp_path / "one"
    first_set.mkdir()
    f.write_catalog(f.nvss_table([10.0, 11.0], [5.0, 5.0], [10.0, 20.0]), first_set / "nvss.csv")
    build_catalog(settings, BuildInputs(first_set / "nvss.csv"))
    out = tmp_path / "two"
    out.mkdir()
    known = build_known(out, suffix=".vot")
    build_catalog(settings, BuildInputs(known.nvss, known.first, known.vlass))
    db = _open(settings)
    try:
        _check_known(db, known)
        st = migrations.status(db)
        assert st.current == st.head and not st.pending
    finally:
        db.dispose()
    assert _leftovers(settings) == []


def test_partners_are_optional(settings: Settings, known: KnownCatalog) -> None:
    build_catalog(settings, BuildInputs(known.nvss))
    db = _open(settings)
    try:
        rows = _rows(db)
    finally:
        db.dispose()
    assert len(rows) == len(known.expected)
    for row in rows.values():
        assert row["s_vlass"] is None and row["alpha"] is None
        assert row["first_size_maj_arcsec"] is None
        assert row["resolved_flag"] == 0 and row["confusion_flag"] == 0


def test_radius_is_configurable(settings: Settings, known: KnownCatalog) -> None:
    report = build_catalog(settings, BuildInputs(known.nvss, None, known.vlass), radius_arcsec=10.0)
    assert report.radius_arcsec == 10.0
    db = _open(settings)
    try:
        rows = _rows(db)
    finally:
        db.dispose()
    assert rows["NVSS J103200.0+300000"]["s_vlass"] == pytest.approx(0.040)  # 9" away


def test_failed_build_leaves_catalog_untouched(
    settings: Settings, known: KnownCatalog, tmp_path: Path
) -> None:
    build_catalog(settings, BuildInputs(known.nvss, known.first, known.vlass))
    bad = f.vlass_table([1.0], [2.0], [3.0])
    bad.remove_column("Total_flux")
    bad_path = f.write_catalog(bad, tmp_path / "bad_vlass.fits")
    with pytest.raises(ContimgError, match=r"bad_vlass\.fits.*Total_flux"):
        build_catalog(settings, BuildInputs(known.nvss, known.first, bad_path))
    db = _open(settings)
    try:
        _check_known(db, known)
    finally:
        db.dispose()
    assert _leftovers(settings) == []


@pytest.mark.parametrize("when", ["write sources", "index", "install"])
def test_build_killed_midway_leaves_catalog_untouched(
    settings: Settings, known: KnownCatalog, tmp_path: Path, when: str
) -> None:
    """An interruption while the new catalog is being written (or just before the
    swap) changes nothing in the live one."""
    build_catalog(settings, BuildInputs(known.nvss, known.first, known.vlass))
    other = tmp_path / "other"
    other.mkdir()
    f.write_catalog(
        f.nvss_table([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [9.0, 9.0, 9.0]), other / "nvss.fits"
    )

    def interrupt(step: str, done: int, total: int) -> None:
        if step == when and (done > 0 or when != "write sources"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_catalog(settings, BuildInputs(other / "nvss.fits"), progress=interrupt)
    db = _open(settings)
    try:
        _check_known(db, known)
        st = migrations.status(db)
        assert st.current == st.head
    finally:
        db.dispose()
    assert _leftovers(settings) == []


def test_refuses_catalog_behind_head(settings: Settings, known: KnownCatalog) -> None:
    db = open_database(settings, "master_sources", create_dirs=True)
    try:
        migrations.upgrade(db, to="master_sources_0001")
        with pytest.raises(ContimgError, match="contimg db upgrade"):
            build_catalog(settings, BuildInputs(known.nvss))
        assert migrations.status(db).current == "master_sources_0001"
    finally:
        db.dispose()


def test_repeated_names_are_suffixed(settings: Settings, tmp_path: Path) -> None:
    path = f.write_catalog(
        f.nvss_table([10.0, 10.00001, 20.0], [5.0, 5.0, 6.0], [10, 11, 12], names=["A", "A", "B"]),
        tmp_path / "nvss.fits",
    )
    report = build_catalog(settings, BuildInputs(path))
    assert report.n_renamed == 1
    db = _open(settings)
    try:
        assert set(_rows(db)) == {"NVSS JA", "NVSS JA_2", "NVSS JB"}
    finally:
        db.dispose()


def test_column_overrides(sqlite_settings: Settings, tmp_path: Path) -> None:
    t = f.nvss_table([10.0], [5.0], [10.0])
    t.rename_column("S1.4", "S1400")
    path = f.write_catalog(t, tmp_path / "nvss.fits")
    with pytest.raises(ContimgError, match=r"S1\.4"):
        build_catalog(sqlite_settings, BuildInputs(path))
    build_catalog(
        sqlite_settings, BuildInputs(path, columns=parse_column_overrides(["nvss.flux=S1400"]))
    )
    db = _open(sqlite_settings)
    try:
        (row,) = _rows(db).values()
    finally:
        db.dispose()
    assert row["s_nvss"] == pytest.approx(0.010)


def test_parse_column_overrides_errors() -> None:
    assert parse_column_overrides(["VLASS.flux=Flux"]) == {"vlass": {"flux": "Flux"}}
    for bad in ["nvss.flux", "flux=S", "sumss.flux=S", "nvss.=S"]:
        with pytest.raises(ContimgError, match=r"SURVEY\.FIELD=COLUMN"):
            parse_column_overrides([bad])
