"""SQL of the SQLite cone index (``sources_healpix``, a copy of ``sources`` keyed by
HEALPix pixel): its tracking triggers, the pending list, the steps of a rebuild and of
a sync, and the consistency check of ``contimg db check``; on PostgreSQL, whether the
q3c index exists.

What to do with these (when to sync, when to rebuild, the pixels of the rows) is
:mod:`contimg.catalog.index`'s; the module docstring there explains the design.
Rows of ``sources`` cross these functions as plain tuples in
:data:`~contimg.db.queries.sources.SOURCE_COLUMNS` order (a rebuild moves millions of
them), and rows of the copy in
:data:`~contimg.db.queries.sources.HEALPIX_COLUMNS` order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy.engine import Connection

from contimg.db.queries.sources import HEALPIX_COLUMNS, PENDING_TABLE, SOURCE_COLUMNS

TRIGGER_NAMES: tuple[str, ...] = (
    "sources_healpix_track_insert",
    "sources_healpix_track_update",
    "sources_healpix_track_delete",
)

SourceTuple = tuple[object, ...]
"""A ``sources`` row in SOURCE_COLUMNS order, as the driver returns it (another
program may have stored anything in a column: the caller checks the positions)."""

CopyTuple = tuple[object, ...]
"""A ``sources_healpix`` row in HEALPIX_COLUMNS order: (hpx, x, y, z, *SourceTuple)."""

# A NULL source_id is allowed by SQLite for a TEXT PRIMARY KEY but not by the spec's
# meaning of the key (nor by the copy's NOT NULL): refuse it with a clear message.
# Migration master_sources_0003 keeps its own copy of these statements (a test
# compares them).
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

Q3C_INDEX_DDL = "CREATE INDEX idx_sources_q3c ON sources (q3c_ang2ipix(ra_deg, dec_deg))"
"""The q3c index of ``sources`` (PostgreSQL, migration master_sources_0002)."""


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


# ------------------------------------------------------------------ triggers


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
    """Create the tracking triggers (or re-run what :func:`drop_triggers` returned)."""
    for sql in trigger_statements() if statements is None else statements:
        conn.exec_driver_sql(sql)


# ------------------------------------------------------------------ pending list


def pending_count(conn: Connection, *, limit: int | None = None) -> int:
    """Rows of ``sources`` not yet folded into the copy (counting stops at ``limit``)."""
    if limit is None:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {PENDING_TABLE}").scalar_one())
    return int(
        conn.exec_driver_sql(
            f"SELECT count(*) FROM (SELECT 1 FROM {PENDING_TABLE} LIMIT {int(limit)})"
        ).scalar_one()
    )


def clear_pending(conn: Connection, *, source_ids: Sequence[str]) -> None:
    """Forget pending ids whose copy rows the caller has just written itself."""
    conn.exec_driver_sql(
        f"DELETE FROM {PENDING_TABLE} WHERE source_id = ?", [(s,) for s in source_ids]
    )


def clear_all_pending(conn: Connection) -> None:
    conn.exec_driver_sql(f"DELETE FROM {PENDING_TABLE}")


def delete_pending_copies(conn: Connection) -> None:
    """Delete the copy's rows of every pending id (one pass over the copy: its key is
    the pixel, and the old pixel of a changed row is not known)."""
    conn.exec_driver_sql(
        f"DELETE FROM sources_healpix WHERE source_id IN (SELECT source_id FROM {PENDING_TABLE})"
    )


def pending_sources(conn: Connection) -> list[SourceTuple]:
    """The current ``sources`` rows of the pending ids (deleted ones have none)."""
    cols = ", ".join(f"s.{c}" for c in SOURCE_COLUMNS)
    rows = list(
        conn.exec_driver_sql(
            f"SELECT {cols} FROM {PENDING_TABLE} AS p "
            "JOIN sources AS s ON s.source_id = p.source_id"
        ).fetchall()
    )
    return [tuple(r) for r in rows]


def insert_copy(conn: Connection, rows: Sequence[CopyTuple]) -> None:
    """Add rows to the copy (HEALPIX_COLUMNS order)."""
    if not rows:
        return
    cols = ", ".join(HEALPIX_COLUMNS)
    marks = ", ".join("?" for _ in HEALPIX_COLUMNS)
    conn.exec_driver_sql(f"INSERT INTO sources_healpix ({cols}) VALUES ({marks})", list(rows))


# ------------------------------------------------------------------ rebuild


def cache_size(conn: Connection) -> int:
    """SQLite's page cache setting of this connection (``PRAGMA cache_size``)."""
    return int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())


def set_cache_size(conn: Connection, value: int) -> None:
    """``PRAGMA cache_size``: pages, or KiB when negative."""
    conn.exec_driver_sql(f"PRAGMA cache_size={int(value)}")


def start_rebuild(conn: Connection) -> None:
    """Empty the copy and the pending list; a fresh temporary table of pixels."""
    conn.exec_driver_sql("DELETE FROM sources_healpix")
    conn.exec_driver_sql(f"DELETE FROM {PENDING_TABLE}")
    conn.exec_driver_sql("DROP TABLE IF EXISTS temp.contimg_pixels")
    conn.exec_driver_sql(
        "CREATE TEMP TABLE contimg_pixels (source_id TEXT PRIMARY KEY, hpx INTEGER NOT NULL, "
        "x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL) WITHOUT ROWID"
    )


def position_chunks(conn: Connection, *, chunk: int) -> Iterator[list[SourceTuple]]:
    """(source_id, ra_deg, dec_deg) of every ``sources`` row, ``chunk`` rows at a time
    (read with the driver's cursor: millions of rows)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    cur = raw.execute("SELECT source_id, ra_deg, dec_deg FROM sources")
    while True:
        rows = cur.fetchmany(chunk)
        if not rows:
            return
        yield rows


def add_pixels(conn: Connection, rows: Sequence[CopyTuple]) -> None:
    """Record the pixel and unit vector of copy rows (HEALPIX_COLUMNS order, only the
    first five read) in the rebuild's temporary table."""
    conn.exec_driver_sql(
        "INSERT INTO temp.contimg_pixels VALUES (?, ?, ?, ?, ?)",
        [(r[4], r[0], r[1], r[2], r[3]) for r in rows],
    )


def finish_rebuild(conn: Connection) -> None:
    """Write the copy from ``sources`` and the temporary table, in pixel order (every
    b-tree insert an append, nearby pixels stored together); drop the table."""
    src = ", ".join(f"s.{c}" for c in SOURCE_COLUMNS)
    conn.exec_driver_sql(
        f"INSERT INTO sources_healpix ({', '.join(HEALPIX_COLUMNS)}) "
        f"SELECT p.hpx, p.x, p.y, p.z, {src} FROM temp.contimg_pixels AS p "
        "JOIN sources AS s ON s.source_id = p.source_id ORDER BY p.hpx, p.source_id"
    )
    conn.exec_driver_sql("DROP TABLE temp.contimg_pixels")


# ------------------------------------------------------------------ consistency


@dataclass
class IndexProblem:
    message: str
    fix: str


class CopyComparison(NamedTuple):
    """The copy's rows whose id is not pending, compared with ``sources``."""

    extra: int
    """Rows deleted from ``sources`` or differing from their ``sources`` row."""
    matched: int
    """Distinct ids whose copy row equals their ``sources`` row."""


def compare_copy(conn: Connection) -> CopyComparison:
    # Only look-ups by the key of sources (the copy's key is the pixel): the copy's
    # rows are joined to sources.
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
    return CopyComparison(int(extra), int(matched))


def settled_source_count(conn: Connection) -> int:
    """``sources`` rows whose id is not pending (all of them belong in the copy)."""
    pend = f"(SELECT source_id FROM {PENDING_TABLE})"
    return int(
        conn.exec_driver_sql(
            "SELECT count(*) FROM sources WHERE source_id NOT IN " + pend
        ).scalar_one()
    )


def duplicated_copy_ids(conn: Connection) -> int:
    """Ids that appear more than once in the copy."""
    return int(
        conn.exec_driver_sql(
            "SELECT count(*) FROM (SELECT source_id FROM sources_healpix GROUP BY source_id "
            "HAVING count(*) > 1)"
        ).scalar_one()
    )


def index_problems(conn: Connection) -> tuple[list[IndexProblem], int]:
    """Every way the copy differs from ``sources`` (SQLite), and the pending count.

    Pending rows are not a problem (cone searches read them from ``sources``);
    a copy row that disagrees with a ``sources`` row that is NOT pending, a
    ``sources`` row missing from both, or missing triggers are.
    """
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
    # The sources rows missing from the copy are counted as those left over.
    extra, matched = compare_copy(conn)
    not_indexed = settled_source_count(conn) - matched
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
                f"cone index stale: {extra} sources_healpix rows are deleted from or "
                "differ from sources",
                fix,
            )
        )
    dup = duplicated_copy_ids(conn)
    if dup:
        problems.append(
            IndexProblem(f"cone index stale: {dup} sources appear twice in sources_healpix", fix)
        )
    return problems, pending_count(conn)


def has_q3c_index(conn: Connection, *, schema: str | None) -> bool:
    """PostgreSQL: ``sources`` of ``schema`` has the q3c index ``idx_sources_q3c``."""
    have = conn.exec_driver_sql(
        "SELECT 1 FROM pg_indexes WHERE schemaname = %(s)s AND tablename = 'sources' "
        "AND indexname = 'idx_sources_q3c'",
        {"s": schema},
    ).first()
    return have is not None


def pg_problems(conn: Connection, *, schema: str | None) -> list[IndexProblem]:
    """PostgreSQL: the q3c index that cone searches need exists on ``sources``."""
    if has_q3c_index(conn, schema=schema):
        return []
    return [
        IndexProblem(
            "the q3c index idx_sources_q3c of sources is missing: cone searches scan the table",
            f"{Q3C_INDEX_DDL} (in the master_sources schema)",
        )
    ]
