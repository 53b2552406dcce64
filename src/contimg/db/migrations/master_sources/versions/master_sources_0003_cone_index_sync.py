"""Keep the SQLite cone index equal to ``sources`` whatever writes it.

Revision ID: master_sources_0003
Revises: master_sources_0002
Create Date: 2026-12-02

Before this revision ``sources_healpix`` (the SQLite cone index, a copy of
``sources`` keyed by HEALPix pixel) was written only by ``contimg catalog build``,
so a catalog adopted from the spec's DDL, or rows another program wrote into
``sources``, were invisible to cone searches. This revision (SQLite only; on
PostgreSQL q3c indexes ``sources`` itself and nothing changes):

* adds ``sources_healpix_pending`` (the ids of ``sources`` rows written since the
  copy was last brought up to date) and three triggers on ``sources`` that fill it
  on every INSERT, UPDATE (including UPSERT and REPLACE) and DELETE; they also
  refuse a NULL ``source_id``;
* rebuilds ``sources_healpix`` from ``sources`` (an adopted catalog is indexed
  here; a catalog written by other tools at revision 0002 is made exact again).

Cone searches read the copy except for pending ids, which they read from
``sources`` (see :mod:`contimg.catalog.index` and docs/catalog.md). The spec's
``sources`` table, its indexes and its views are untouched.

Downgrade drops the triggers and the pending table; ``sources_healpix`` keeps its
rows (revision 0002 has no guarantee about them; upgrading again rebuilds it).

Everything this revision runs is written here, as of this revision (the statements,
the copy's columns, the pixels: nested HEALPix order 16 and unit vectors), so that
later changes to contimg's code cannot change what upgrading to it does.
"""

from alembic import op
from sqlalchemy.engine import Connection

from contimg.db.migrations.ddl import dialect
from contimg.errors import ContimgError

revision = "master_sources_0003"
down_revision = "master_sources_0002"
branch_labels = None
depends_on = None

PENDING_TABLE = "sources_healpix_pending"
TRIGGERS = (
    "sources_healpix_track_insert",
    "sources_healpix_track_update",
    "sources_healpix_track_delete",
)
# The statements as of this revision (contimg.db.queries.cone_index keeps the same text
# for 'contimg catalog reindex', which re-creates missing triggers; a test compares them).
STATEMENTS = (
    """
CREATE TABLE sources_healpix_pending (
    source_id TEXT PRIMARY KEY
) WITHOUT ROWID
""",
    """
CREATE TRIGGER sources_healpix_track_insert AFTER INSERT ON sources
BEGIN
    SELECT RAISE(ABORT, 'master_sources.sources: source_id must not be NULL')
        WHERE NEW.source_id IS NULL;
    INSERT OR IGNORE INTO sources_healpix_pending(source_id) VALUES (NEW.source_id);
END
""",
    """
CREATE TRIGGER sources_healpix_track_update AFTER UPDATE ON sources
BEGIN
    SELECT RAISE(ABORT, 'master_sources.sources: source_id must not be NULL')
        WHERE NEW.source_id IS NULL;
    INSERT OR IGNORE INTO sources_healpix_pending(source_id) VALUES (OLD.source_id);
    INSERT OR IGNORE INTO sources_healpix_pending(source_id) VALUES (NEW.source_id);
END
""",
    """
CREATE TRIGGER sources_healpix_track_delete AFTER DELETE ON sources
BEGIN
    INSERT OR IGNORE INTO sources_healpix_pending(source_id)
        SELECT OLD.source_id WHERE OLD.source_id IS NOT NULL;
END
""",
)


SOURCE_COLUMNS = (
    "source_id",
    "ra_deg",
    "dec_deg",
    "s_nvss",
    "snr_nvss",
    "s_vlass",
    "alpha",
    "resolved_flag",
    "confusion_flag",
    "first_size_maj_arcsec",
    "first_size_min_arcsec",
    "first_size_pa_deg",
)
"""Columns of ``sources`` (the spec's), in table order."""
HEALPIX_COLUMNS = ("hpx", "x", "y", "z", *SOURCE_COLUMNS)
HEALPIX_ORDER = 16
REBUILD_CHUNK = 200_000


def upgrade() -> None:
    if dialect() != "sqlite":
        return
    for statement in STATEMENTS:
        op.execute(statement)
    # The pixels are computed in Python (astropy-healpix), as the build does.
    conn = op.get_bind()
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql("PRAGMA cache_size=-131072")  # 128 MB for this rebuild
    try:
        _rebuild(conn)
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(cache)}")


def _rebuild(conn: Connection) -> None:
    """``sources_healpix`` from ``sources``: the pixels of (source_id, ra_deg, dec_deg)
    into a temporary table, then the copy written in pixel order by SQLite."""
    conn.exec_driver_sql("DELETE FROM sources_healpix")
    conn.exec_driver_sql(f"DELETE FROM {PENDING_TABLE}")
    conn.exec_driver_sql("DROP TABLE IF EXISTS temp.contimg_pixels")
    conn.exec_driver_sql(
        "CREATE TEMP TABLE contimg_pixels (source_id TEXT PRIMARY KEY, hpx INTEGER NOT NULL, "
        "x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL) WITHOUT ROWID"
    )
    raw = conn.connection.driver_connection
    assert raw is not None
    cur = raw.execute("SELECT source_id, ra_deg, dec_deg FROM sources")
    while True:
        rows = cur.fetchmany(REBUILD_CHUNK)
        if not rows:
            break
        conn.exec_driver_sql(
            "INSERT INTO temp.contimg_pixels VALUES (?, ?, ?, ?, ?)", _pixels(rows)
        )
    src = ", ".join(f"s.{c}" for c in SOURCE_COLUMNS)
    conn.exec_driver_sql(
        f"INSERT INTO sources_healpix ({', '.join(HEALPIX_COLUMNS)}) "
        f"SELECT p.hpx, p.x, p.y, p.z, {src} FROM temp.contimg_pixels AS p "
        "JOIN sources AS s ON s.source_id = p.source_id ORDER BY p.hpx, p.source_id"
    )
    conn.exec_driver_sql("DROP TABLE temp.contimg_pixels")


def _pixels(rows: list[tuple[object, object, object]]) -> list[tuple[object, ...]]:
    """(source_id, ra_deg, dec_deg) -> (source_id, hpx, x, y, z), refusing a row whose
    position is not one."""
    import numpy as np
    from astropy import units as u
    from astropy_healpix import HEALPix

    try:
        ra = np.array([r[1] for r in rows], dtype=np.float64)
        dec = np.array([r[2] for r in rows], dtype=np.float64)
    except (TypeError, ValueError):
        bad = next(r for r in rows if not _is_number(r[1]) or not _is_number(r[2]))
        raise ContimgError(
            f"master_sources table sources, row source_id={bad[0]!r}: ra_deg={bad[1]!r}, "
            f"dec_deg={bad[2]!r} is not a position in degrees; correct or delete that row"
        ) from None
    bad_pos = ~(np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90.0))
    if bad_pos.any():
        i = int(np.flatnonzero(bad_pos)[0])
        raise ContimgError(
            f"master_sources table sources, row source_id={rows[i][0]!r}: ra_deg={ra[i]!r}, "
            f"dec_deg={dec[i]!r} is not a sky position; correct or delete that row"
        )
    healpix = HEALPix(nside=2**HEALPIX_ORDER, order="nested")
    hpx = np.asarray(healpix.lonlat_to_healpix(ra * u.deg, dec * u.deg), dtype=np.int64)
    ra_rad, dec_rad = np.deg2rad(ra), np.deg2rad(dec)
    cos_dec = np.cos(dec_rad)
    x = (cos_dec * np.cos(ra_rad)).tolist()
    y = (cos_dec * np.sin(ra_rad)).tolist()
    z = np.sin(dec_rad).tolist()
    hx = hpx.tolist()
    return [(r[0], hx[i], x[i], y[i], z[i]) for i, r in enumerate(rows)]


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def downgrade() -> None:
    if dialect() != "sqlite":
        return
    for name in reversed(TRIGGERS):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute(f"DROP TABLE {PENDING_TABLE}")
