"""SQL over ``master_sources``: bulk loading, cone searches, counts, build records.

Cone searches have one function per backend: :func:`cone_healpix` (SQLite; pixel
ranges of the ``sources_healpix`` side table, computed by
:mod:`contimg.catalog.cone`) and :func:`cone_q3c` (PostgreSQL; the q3c index).
Both return candidate rows of :data:`SOURCE_COLUMNS`; :func:`cone_q3c` is
exact, :func:`cone_healpix` returns a superset that the caller trims.

The build helpers (:func:`bulk_insert`, :func:`secondary_indexes`,
:func:`pg_swap_schema` ...) serve :mod:`contimg.catalog.build`, which loads a
complete new catalog beside the live one and swaps it in atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.master_sources import catalog_builds, sources, sources_healpix
from contimg.models import SourceRow

Relation = Literal["sources", "good_references", "final_references"]
RELATIONS: tuple[Relation, ...] = ("sources", "good_references", "final_references")

PENDING_TABLE = "sources_healpix_pending"
"""Ids of ``sources`` rows written since the cone index last caught up (SQLite;
migration master_sources_0003, see :mod:`contimg.catalog.index`)."""

SOURCE_COLUMNS: tuple[str, ...] = tuple(c.name for c in sources.columns)
"""Columns of ``sources`` (and of its two views), in table order."""

HEALPIX_COLUMNS: tuple[str, ...] = ("hpx", "x", "y", "z", *SOURCE_COLUMNS)
"""Columns of ``sources_healpix``: the pixel, the unit vector, then a copy of the
``sources`` row."""

_COLS = ", ".join(f"s.{c}" for c in SOURCE_COLUMNS)


@dataclass(frozen=True, slots=True)
class BuildRow:
    """A ``catalog_builds`` row (columns in table order)."""

    build_id: int
    built_at: float
    match_radius_arcsec: float
    nvss_path: str
    first_path: str | None
    vlass_path: str | None
    n_nvss: int
    n_first: int | None
    n_vlass: int | None
    n_first_matched: int | None
    n_vlass_matched: int | None
    healpix_order: int
    duration_s: float | None
    contimg_version: str | None


def _relation(name: str) -> str:
    if name not in RELATIONS:
        raise ValueError(f"unknown relation {name!r}; expected one of {RELATIONS}")
    return name


# ------------------------------------------------------------------ bulk build


def sqlite_bulk_pragmas(conn: Connection) -> None:
    """Pragmas for loading a scratch SQLite file that is discarded on failure.

    Call before the connection's transaction begins (``synchronous`` cannot
    change inside one); they last for the connection's life.
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    # No journal: a failed load discards the whole scratch file anyway, and the
    # data are written once instead of WAL first and database second.
    for pragma in (
        "journal_mode=OFF",
        "locking_mode=EXCLUSIVE",
        "synchronous=OFF",
        "cache_size=-262144",
        "temp_store=MEMORY",
    ):
        raw.execute(f"PRAGMA {pragma}")


def sqlite_wal_mode(conn: Connection) -> None:
    """Back to the WAL journal every contimg SQLite database uses (outside a transaction)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA locking_mode=NORMAL")
    raw.execute("PRAGMA journal_mode=WAL")


def sqlite_fill_sources_from_healpix(conn: Connection) -> None:
    """Copy every ``sources_healpix`` row into ``sources``, in ``source_id`` order."""
    cols = ", ".join(SOURCE_COLUMNS)
    conn.exec_driver_sql(
        f"INSERT INTO sources ({cols}) SELECT {cols} FROM sources_healpix ORDER BY source_id"
    )


def bulk_insert(
    conn: Connection,
    *,
    table: Literal["sources", "sources_healpix"],
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    """Insert many rows fast: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

    ``rows`` hold plain Python values in ``columns`` order (None for NULL).
    """
    if table not in ("sources", "sources_healpix"):
        raise ValueError(f"bulk_insert: unknown table {table!r}")
    cols = ", ".join(columns)
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(
            f"INSERT INTO {table} ({cols}) VALUES ({marks})",
            rows if isinstance(rows, list) else list(rows),
        )
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def secondary_indexes(
    conn: Connection, *, table: str, schema: str | None = None
) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the indexes of ``table`` that no constraint owns.

    Dropping these before a bulk load and re-running the statements afterwards
    is much faster than maintaining them row by row.
    """
    if conn.dialect.name == "sqlite":
        rows = conn.execute(
            sa.text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = :t AND sql IS NOT NULL ORDER BY name"
            ),
            {"t": table},
        )
        return [(str(r[0]), str(r[1])) for r in rows]
    rows = conn.execute(
        sa.text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = :s AND i.tablename = :t AND NOT EXISTS ("
            "  SELECT 1 FROM pg_constraint c JOIN pg_class ic ON ic.oid = c.conindid "
            "  JOIN pg_namespace n ON n.oid = ic.relnamespace "
            "  WHERE ic.relname = i.indexname AND n.nspname = i.schemaname) "
            "ORDER BY i.indexname"
        ),
        {"s": schema, "t": table},
    )
    return [(str(r[0]), str(r[1])) for r in rows]


def drop_index(conn: Connection, *, name: str) -> None:
    conn.exec_driver_sql(f'DROP INDEX "{name}"')


def create_index(conn: Connection, *, ddl: str) -> None:
    """Re-run an index's CREATE statement from :func:`secondary_indexes`."""
    if not ddl.lstrip().upper().startswith("CREATE"):
        raise ValueError(f"not a CREATE INDEX statement: {ddl[:60]!r}")
    conn.exec_driver_sql(ddl)


def analyze(conn: Connection) -> None:
    """Refresh the planner's statistics (sampled on SQLite: a full pass over 1.8
    million rows would cost seconds for no better plans)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA analysis_limit=2000")
    conn.exec_driver_sql("ANALYZE")


def sqlite_checkpoint(conn: Connection) -> None:
    """Copy the WAL into the database file and truncate it."""
    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def add_sources(conn: Connection, *, rows: Sequence[Mapping[str, object]]) -> None:
    """Insert a few ``sources`` rows (columns by name; on SQLite the tracking triggers
    list them as pending)."""
    conn.execute(sources.insert(), rows)


def add_healpix_rows(conn: Connection, *, rows: Sequence[Mapping[str, object]]) -> None:
    """Insert a few ``sources_healpix`` rows (SQLite; columns by name: the ``sources``
    columns and ``hpx``, ``x``, ``y``, ``z``)."""
    conn.execute(sources_healpix.insert(), rows)


def record_build(conn: Connection, **values: Any) -> int:
    """Insert the ``catalog_builds`` row of a build; returns its id."""
    result = conn.execute(sa.insert(catalog_builds).values(**values))
    pk = result.inserted_primary_key
    return int(pk[0]) if pk is not None else 0


# ------------------------------------------------------------------ PostgreSQL swap


def pg_schema_exists(conn: Connection, *, schema: str) -> bool:
    return bool(
        conn.execute(
            sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
        ).scalar()
    )


def pg_drop_schema(conn: Connection, *, schema: str) -> None:
    conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def pg_lock_catalog(conn: Connection, *, schema: str) -> None:
    """Take the lock that migrations of ``schema`` take (serialises build and upgrade)."""
    conn.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"contimg-migrate:{schema}"}
    )


def pg_swap_schema(conn: Connection, *, live: str, staging: str, retired: str) -> None:
    """In the caller's transaction: ``live`` -> ``retired``, ``staging`` -> ``live``,
    then drop ``retired``. Readers see the old catalog or the new one, never a mix."""
    if pg_schema_exists(conn, schema=live):
        conn.exec_driver_sql(f'ALTER SCHEMA "{live}" RENAME TO "{retired}"')
    conn.exec_driver_sql(f'ALTER SCHEMA "{staging}" RENAME TO "{live}"')
    conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{retired}" CASCADE')


def pg_stale_build_schemas(conn: Connection, *, prefix: str) -> list[str]:
    """Schemas left behind by builds that died (names starting with ``prefix``)."""
    rows = conn.execute(
        sa.text("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, :p)"), {"p": prefix}
    )
    return [str(r[0]) for r in rows]


# ------------------------------------------------------------------ cone searches

_HEALPIX_RANGES = (
    "FROM json_each(?) AS r JOIN sources_healpix AS c "
    "ON c.hpx BETWEEN json_extract(r.value, '$[0]') AND json_extract(r.value, '$[1]')"
)


def cone_healpix(
    conn: Connection,
    *,
    ranges: Sequence[tuple[int, int]],
    centre_xyz: tuple[float, float, float],
    max_chord: float,
    min_flux_jy: float | None = None,
    relation: Relation = "sources",
    has_pending: bool = False,
) -> list[tuple[Any, ...]]:
    """Rows of ``relation`` in the cone: HEALPix pixel in one of the inclusive
    ``ranges`` and unit vector within chord length ``max_chord`` of ``centre_xyz``.

    SQLite only (``json_each``); reads the ``sources_healpix`` copy, one index
    range scan per range. For the views, candidates are joined to the view by
    ``source_id`` so the spec's view definitions decide membership.
    ``has_pending``: rows are pending in ``sources_healpix_pending``; they are read
    from ``sources`` (every pending row, in or out of the cone) instead of the copy.
    """
    cols = ", ".join(f"c.{col}" for col in SOURCE_COLUMNS)
    view_join = (
        f" JOIN {_relation(relation)} AS v ON v.source_id = c.source_id"
        if relation != "sources"
        else ""
    )
    sql = (
        f"SELECT {cols} {_HEALPIX_RANGES}"
        + view_join
        + " WHERE (c.x - ?) * (c.x - ?) + (c.y - ?) * (c.y - ?) + (c.z - ?) * (c.z - ?) <= ?"
    )
    x, y, z = (float(v) for v in centre_xyz)
    params: list[Any] = [
        json.dumps([[int(a), int(b)] for a, b in ranges]),
        x, x, y, y, z, z,
        float(max_chord) ** 2,
    ]  # fmt: skip
    if min_flux_jy is not None:
        sql += " AND c.s_nvss >= ?"
        params.append(float(min_flux_jy))
    # Straight to the driver: plain tuples, no Row objects, for ~500 rows per cone.
    raw = conn.connection.driver_connection
    assert raw is not None
    if not has_pending:
        return list(raw.execute(sql, tuple(params)).fetchall())
    # Rows written since the copy was last synced (contimg.catalog.index): their
    # copy rows (if any) are out of date, their current rows are read from sources
    # itself (candidates; the caller trims them to the exact radius).
    sql += f" AND c.source_id NOT IN (SELECT source_id FROM {PENDING_TABLE})"
    pending_sql = (
        f"SELECT {cols} FROM {PENDING_TABLE} AS p JOIN sources AS c ON c.source_id = p.source_id"
        + view_join
        + (" WHERE c.s_nvss >= ?" if min_flux_jy is not None else "")
    )
    rows = list(raw.execute(sql, tuple(params)).fetchall())
    rows += raw.execute(pending_sql, () if min_flux_jy is None else (float(min_flux_jy),))
    return rows


def cone_q3c(
    conn: Connection,
    *,
    ra_deg: float,
    dec_deg: float,
    radius_deg: float,
    min_flux_jy: float | None = None,
    relation: Relation = "sources",
) -> list[tuple[Any, ...]]:
    """Rows of ``relation`` within ``radius_deg`` of a position (PostgreSQL + q3c; exact)."""
    where = " AND s.s_nvss >= :min_flux" if min_flux_jy is not None else ""
    sql = (
        f"SELECT {_COLS} FROM {_relation(relation)} AS s "
        "WHERE q3c_radial_query(s.ra_deg, s.dec_deg, :ra, :dec, :r)" + where
    )
    params: dict[str, Any] = {"ra": float(ra_deg), "dec": float(dec_deg), "r": float(radius_deg)}
    if min_flux_jy is not None:
        params["min_flux"] = float(min_flux_jy)
    return [tuple(r) for r in conn.execute(sa.text(sql), params)]


# ------------------------------------------------------------------ look-ups


def get_source(conn: Connection, *, source_id: str) -> SourceRow | None:
    row = (
        conn.execute(sa.select(sources).where(sources.c.source_id == source_id)).mappings().first()
    )
    return SourceRow(**row) if row is not None else None


def all_positions(conn: Connection) -> list[tuple[str, float, float]]:
    """(source_id, ra_deg, dec_deg) of every source (for brute-force checks)."""
    rows = conn.execute(sa.select(sources.c.source_id, sources.c.ra_deg, sources.c.dec_deg))
    return [(str(r[0]), float(r[1]), float(r[2])) for r in rows]


def relation_ids(conn: Connection, *, relation: Relation) -> list[str]:
    """Every ``source_id`` of ``relation`` (a table or one of the spec's views), sorted."""
    rows = conn.execute(sa.text(f"SELECT source_id FROM {_relation(relation)} ORDER BY source_id"))
    return [str(r[0]) for r in rows]


def catalog_counts(conn: Connection) -> dict[str, int]:
    """Counts of the catalog and of its reference views."""
    s = sources.c
    row = conn.execute(
        sa.select(
            sa.func.count().label("sources"),
            sa.func.count(s.s_vlass).label("with_vlass"),
            sa.func.count(s.first_size_maj_arcsec).label("with_first"),
            sa.func.count(s.alpha).label("with_alpha"),
            sa.func.coalesce(sa.func.sum(s.resolved_flag), 0).label("resolved"),
            sa.func.coalesce(sa.func.sum(s.confusion_flag), 0).label("confused"),
        )
    ).one()
    out = {k: int(v) for k, v in row._mapping.items()}
    for view in ("good_references", "final_references"):
        out[view] = int(conn.execute(sa.text(f"SELECT count(*) FROM {view}")).scalar_one())
    return out


def latest_build(conn: Connection) -> BuildRow | None:
    """The newest ``catalog_builds`` row, or None for a catalog never built."""
    row = (
        conn.execute(sa.select(catalog_builds).order_by(catalog_builds.c.build_id.desc()).limit(1))
        .mappings()
        .first()
    )
    return BuildRow(**row) if row is not None else None


def catalog_is_empty(conn: Connection) -> bool:
    """Whether the master catalog holds no source."""
    return conn.execute(sa.select(sources.c.source_id).limit(1)).first() is None
