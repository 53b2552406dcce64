"""Keeping the SQLite cone index (``sources_healpix``) equal to ``sources``.

``sources_healpix`` is a copy of every ``sources`` row keyed by its HEALPix
pixel (see :mod:`contimg.catalog.cone`). Any program may write ``sources``
(the catalog build, ``contimg``'s own inserts, or another tool with plain
``INSERT``/``UPDATE``/``DELETE``), and a pixel cannot be computed in a SQLite
trigger portably, so the copy is kept exact in two parts:

* triggers on ``sources`` (migration ``master_sources_0003``) write the id of
  every inserted, updated, replaced or deleted row into
  ``sources_healpix_pending``. They need nothing but SQLite, so another
  program's writes are tracked too;
* a cone search reads the ``sources_healpix`` rows whose id is NOT pending,
  plus the ``sources`` rows whose id IS pending (both trimmed to the exact
  radius), so its answer equals a brute-force search over ``sources`` at every
  moment. :func:`sync_pending` folds the pending rows into the copy (the cone
  search does it itself once more than :data:`SYNC_THRESHOLD` are pending;
  ``contimg catalog reindex`` does it on demand).

A copy that cannot be trusted is never read silently: when the triggers are
missing (dropped by hand, or a database taken back to ``master_sources_0002``
and written there) the cone search refuses with the fix
(``contimg catalog reindex``), which rebuilds the copy from ``sources`` and
re-creates the triggers. :func:`index_problems` is the full consistency check
of ``contimg db check``.

On PostgreSQL none of this exists: q3c indexes ``sources`` itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from contimg.errors import ContimgError

log = logging.getLogger(__name__)

PENDING_TABLE = "sources_healpix_pending"
TRIGGER_NAMES: tuple[str, ...] = (
    "sources_healpix_track_insert",
    "sources_healpix_track_update",
    "sources_healpix_track_delete",
)
SYNC_THRESHOLD = 20_000
"""More pending rows than this and a cone search folds them into the copy first."""

_REBUILD_CHUNK = 200_000

# A NULL source_id is allowed by SQLite for a TEXT PRIMARY KEY but not by the spec's
# meaning of the key (nor by the copy's NOT NULL): refuse it with a clear message.
PENDING_SQL = f"""
CREATE TABLE {PENDING_TABLE} (
    source_id TEXT PRIMARY KEY
) WITHOUT ROWID;
"""

TRIGGERS_SQL = f"""
CREATE TRIGGER {TRIGGER_NAMES[0]} AFTER INSERT ON sources
BEGIN
    SELECT RAISE(ABORT, 'master_sources.sources: source_id must not be NULL')
        WHERE NEW.source_id IS NULL;
    INSERT OR IGNORE INTO {PENDING_TABLE}(source_id) VALUES (NEW.source_id);
END;
CREATE TRIGGER {TRIGGER_NAMES[1]} AFTER UPDATE ON sources
BEGIN
    SELECT RAISE(ABORT, 'master_sources.sources: source_id must not be NULL')
        WHERE NEW.source_id IS NULL;
    INSERT OR IGNORE INTO {PENDING_TABLE}(source_id) VALUES (OLD.source_id);
    INSERT OR IGNORE INTO {PENDING_TABLE}(source_id) VALUES (NEW.source_id);
END;
CREATE TRIGGER {TRIGGER_NAMES[2]} AFTER DELETE ON sources
BEGIN
    INSERT OR IGNORE INTO {PENDING_TABLE}(source_id)
        SELECT OLD.source_id WHERE OLD.source_id IS NOT NULL;
END;
"""


def _statements(script: str) -> list[str]:
    """Split :data:`TRIGGERS_SQL` (statements end with ``END;``) or a plain script."""
    out: list[str] = []
    current: list[str] = []
    in_trigger = False
    for line in script.strip().splitlines():
        current.append(line)
        stripped = line.strip().upper()
        if stripped.startswith("CREATE TRIGGER"):
            in_trigger = True
        if (in_trigger and stripped == "END;") or (not in_trigger and stripped.endswith(";")):
            out.append("\n".join(current).strip().rstrip(";"))
            current, in_trigger = [], False
    return out


def trigger_statements() -> list[str]:
    return _statements(TRIGGERS_SQL)


def missing_triggers(conn: Connection) -> list[str]:
    """Names of the tracking triggers that are not in the database (SQLite)."""
    rows = conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'sources'"
    ).fetchall()
    have = {str(r[0]) for r in rows}
    return [n for n in TRIGGER_NAMES if n not in have]


def drop_triggers(conn: Connection) -> list[str]:
    """Drop the tracking triggers (for a bulk load that writes the copy itself);
    returns their CREATE statements, to re-run with :func:`create_triggers`."""
    rows = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'sources' "
        "ORDER BY name"
    ).fetchall()
    for name, _ in rows:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    return [str(r[1]) for r in rows]


def create_triggers(conn: Connection, statements: Sequence[str] | None = None) -> None:
    for sql in trigger_statements() if statements is None else statements:
        conn.exec_driver_sql(sql)


def pending_count(conn: Connection, *, limit: int | None = None) -> int:
    """Rows of ``sources`` not yet folded into the copy (counting stops at ``limit``)."""
    if limit is None:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {PENDING_TABLE}").scalar_one())
    return int(
        conn.exec_driver_sql(
            f"SELECT count(*) FROM (SELECT 1 FROM {PENDING_TABLE} LIMIT {int(limit)})"
        ).scalar_one()
    )


def _rows_with_pixels(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``sources`` rows (SOURCE_COLUMNS order) -> ``sources_healpix`` rows
    (HEALPIX_COLUMNS order), sorted by pixel. Raises on a position that is not one."""
    from contimg.catalog.cone import healpix_index
    from contimg.science.crossmatch import unit_vectors

    if not rows:
        return []
    ids = [r[0] for r in rows]
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
            f"master_sources table sources, row source_id={ids[i]!r}: ra_deg={ra[i]!r}, "
            f"dec_deg={dec[i]!r} is not a sky position; correct or delete that row"
        )
    hpx = healpix_index(ra, dec)
    xyz = unit_vectors(ra, dec)
    order = np.lexsort((np.asarray(ids, dtype=object).astype(str), hpx))
    hx = hpx.tolist()
    x, y, z = xyz[:, 0].tolist(), xyz[:, 1].tolist(), xyz[:, 2].tolist()
    return [(hx[i], x[i], y[i], z[i], *rows[i]) for i in order.tolist()]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _insert_copy(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    from contimg.db.queries.sources import HEALPIX_COLUMNS

    if not rows:
        return
    cols = ", ".join(HEALPIX_COLUMNS)
    marks = ", ".join("?" for _ in HEALPIX_COLUMNS)
    conn.exec_driver_sql(f"INSERT INTO sources_healpix ({cols}) VALUES ({marks})", rows)


def rebuild(conn: Connection) -> int:
    """Rebuild the whole copy from ``sources`` in the caller's transaction (SQLite);
    empties the pending list. Returns the number of rows indexed.

    Only (source_id, ra_deg, dec_deg) cross into Python, in chunks, to get their
    pixels (into a temporary table); SQLite then writes the copy from ``sources``
    in pixel order, so every b-tree insert is an append and the rows of nearby
    pixels end up stored together (what makes a cone a few contiguous reads).
    """
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql("PRAGMA cache_size=-131072")  # 128 MB for this rebuild
    try:
        return _rebuild(conn)
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(cache)}")


def _rebuild(conn: Connection) -> int:
    from contimg.db.queries.sources import HEALPIX_COLUMNS, SOURCE_COLUMNS

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
    n = 0
    while True:
        rows = cur.fetchmany(_REBUILD_CHUNK)
        if not rows:
            break
        with_pix = _rows_with_pixels(rows)
        conn.exec_driver_sql(
            "INSERT INTO temp.contimg_pixels VALUES (?, ?, ?, ?, ?)",
            [(r[4], r[0], r[1], r[2], r[3]) for r in with_pix],
        )
        n += len(rows)
    src = ", ".join(f"s.{c}" for c in SOURCE_COLUMNS)
    conn.exec_driver_sql(
        f"INSERT INTO sources_healpix ({', '.join(HEALPIX_COLUMNS)}) "
        f"SELECT p.hpx, p.x, p.y, p.z, {src} FROM temp.contimg_pixels AS p "
        "JOIN sources AS s ON s.source_id = p.source_id ORDER BY p.hpx, p.source_id"
    )
    conn.exec_driver_sql("DROP TABLE temp.contimg_pixels")
    return n


def sync_pending(conn: Connection) -> int:
    """Fold the pending rows into the copy, in the caller's write transaction (SQLite).

    The copy's rows of pending ids are deleted (one pass over the copy: its key is
    the pixel, and the old pixel of a changed row is not known), the current
    ``sources`` rows of those ids are given pixels and inserted. Returns how many
    ids were pending.
    """
    from contimg.db.queries.sources import SOURCE_COLUMNS

    n = pending_count(conn)
    if n == 0:
        return 0
    conn.exec_driver_sql(
        f"DELETE FROM sources_healpix WHERE source_id IN (SELECT source_id FROM {PENDING_TABLE})"
    )
    cols = ", ".join(f"s.{c}" for c in SOURCE_COLUMNS)
    rows = list(
        conn.exec_driver_sql(
            f"SELECT {cols} FROM {PENDING_TABLE} AS p "
            "JOIN sources AS s ON s.source_id = p.source_id"
        ).fetchall()
    )
    _insert_copy(conn, _rows_with_pixels([tuple(r) for r in rows]))
    conn.exec_driver_sql(f"DELETE FROM {PENDING_TABLE}")
    return n


def clear_pending(conn: Connection, *, source_ids: Sequence[str]) -> None:
    """Forget pending ids whose copy rows the caller has just written itself."""
    conn.exec_driver_sql(
        f"DELETE FROM {PENDING_TABLE} WHERE source_id = ?", [(s,) for s in source_ids]
    )


@dataclass
class IndexProblem:
    message: str
    fix: str


def index_problems(conn: Connection) -> tuple[list[IndexProblem], int]:
    """Every way the copy differs from ``sources`` (SQLite), and the pending count.

    Pending rows are not a problem (cone searches read them from ``sources``);
    a copy row that disagrees with a ``sources`` row that is NOT pending, a
    ``sources`` row missing from both, or missing triggers are.
    """
    from contimg.db.queries.sources import SOURCE_COLUMNS

    fix = "contimg catalog reindex"
    problems: list[IndexProblem] = []
    missing = missing_triggers(conn)
    if missing:
        problems.append(
            IndexProblem(
                f"cone-index triggers missing ({', '.join(missing)}): writes to sources "
                "are not tracked, the cone index may be stale",
                fix,
            )
        )
    # Only look-ups by the key of sources (the copy's key is the pixel): the copy's
    # rows are joined to sources, and the sources rows missing from the copy are
    # counted as those left over.
    pend = f"(SELECT source_id FROM {PENDING_TABLE})"
    differ = " OR ".join(f"c.{c} IS NOT s.{c}" for c in SOURCE_COLUMNS if c != "source_id")
    extra, matched = conn.exec_driver_sql(
        "SELECT coalesce(sum(CASE WHEN s.source_id IS NULL OR "
        + differ
        + " THEN 1 ELSE 0 END), 0), "
        "count(DISTINCT CASE WHEN s.source_id IS NOT NULL AND NOT (" + differ + ") "
        "THEN c.source_id END) FROM sources_healpix AS c LEFT JOIN sources AS s "
        "ON s.source_id = c.source_id WHERE c.source_id NOT IN " + pend
    ).one()
    n_sources = int(
        conn.exec_driver_sql(
            "SELECT count(*) FROM sources WHERE source_id NOT IN " + pend
        ).scalar_one()
    )
    not_indexed = n_sources - int(matched)
    if not_indexed:
        problems.append(
            IndexProblem(
                f"cone index stale: {not_indexed} sources rows are missing from sources_healpix",
                fix,
            )
        )
    if extra:
        problems.append(
            IndexProblem(
                f"cone index stale: {int(extra)} sources_healpix rows are deleted from or "
                "differ from sources",
                fix,
            )
        )
    dup = int(
        conn.exec_driver_sql(
            "SELECT count(*) FROM (SELECT source_id FROM sources_healpix GROUP BY source_id "
            "HAVING count(*) > 1)"
        ).scalar_one()
    )
    if dup:
        problems.append(
            IndexProblem(f"cone index stale: {dup} sources appear twice in sources_healpix", fix)
        )
    return problems, pending_count(conn)


def reindex(conn: Connection, *, full: bool = False) -> tuple[str, int]:
    """Make the copy exact again (SQLite, caller's write transaction).

    Re-creates missing triggers; rebuilds from ``sources`` when ``full``, when the
    triggers were missing or when :func:`index_problems` finds the copy stale;
    otherwise folds the pending rows in. Returns (what was done, rows).
    """
    missing = missing_triggers(conn)
    if missing:
        drop_triggers(conn)
        create_triggers(conn)
    if not full and not missing:
        problems, _ = index_problems(conn)
        if not problems:
            return "synced", sync_pending(conn)
    return "rebuilt", rebuild(conn)


def pg_problems(conn: Connection, *, schema: str | None) -> list[IndexProblem]:
    """PostgreSQL: the q3c index that cone searches need exists on ``sources``."""
    have = conn.exec_driver_sql(
        "SELECT 1 FROM pg_indexes WHERE schemaname = %(s)s AND tablename = 'sources' "
        "AND indexname = 'idx_sources_q3c'",
        {"s": schema},
    ).first()
    if have is not None:
        return []
    return [
        IndexProblem(
            "the q3c index idx_sources_q3c of sources is missing: cone searches scan the table",
            "CREATE INDEX idx_sources_q3c ON sources (q3c_ang2ipix(ra_deg, dec_deg)) "
            "(in the master_sources schema)",
        )
    ]
