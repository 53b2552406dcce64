"""SQL for ``variability_stats`` and its running state ``variability_sums``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.products import variability_stats, variability_sums

STATS_COLUMNS: tuple[str, ...] = tuple(c.name for c in variability_stats.c)
SUMS_COLUMNS: tuple[str, ...] = tuple(c.name for c in variability_sums.c)


@dataclass(frozen=True, slots=True)
class StatsRow:
    """A ``variability_stats`` row (columns in table order)."""

    source_id: str
    ra_deg: float
    dec_deg: float
    nvss_flux_mjy: float | None
    n_obs: int | None
    mean_flux_mjy: float | None
    std_flux_mjy: float | None
    min_flux_mjy: float | None
    max_flux_mjy: float | None
    chi2_nu: float | None
    sigma_deviation: float | None
    eta_metric: float | None
    last_measured_at: float | None
    last_mjd: float | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class Neighbour:
    """A good measurement next to a time (:func:`neighbours`; its WHERE makes every
    column non-NULL)."""

    id: int
    mjd: float
    peak_jyb: float
    peak_err_jyb: float


def _upsert(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT ... ON CONFLICT (primary key) DO UPDATE of rows given as mappings."""
    if rows:
        cols = [c.name for c in table.c]
        _upsert_values(conn, table, list(map(itemgetter(*cols), rows)))


def _upsert_values(conn: Connection, table: sa.Table, values: Sequence[Sequence[Any]]) -> None:
    """INSERT ... ON CONFLICT (primary key) DO UPDATE at driver speed, ``values`` being
    tuples in the Table's column order; one primary key at most once.

    SQLite: one ``executemany``. PostgreSQL: binary ``COPY`` into a temporary table,
    then one INSERT ... SELECT (binding 10,000 rows of parameters costs several times
    more). The SQL is built from the Table object's own names and types only.
    """
    if not values:
        return
    names = [c.name for c in table.c]
    cols = ", ".join(names)
    key = [c.name for c in table.primary_key.columns]
    conflict = f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET " + ", ".join(
        f"{c} = excluded.{c}" for c in names if c not in key
    )
    if conn.dialect.name == "sqlite":
        marks = ", ".join(["?"] * len(names))
        sql = f"INSERT INTO {table.name} ({cols}) VALUES ({marks}) {conflict}"
        conn.exec_driver_sql(sql, list(values))
        return
    raw: Any = conn.connection.driver_connection  # a psycopg.Connection, same transaction
    tmp = f"contimg_upsert_{table.name}"
    with raw.cursor() as cur:
        cur.execute(f"CREATE TEMPORARY TABLE {tmp} (LIKE {table.name}) ON COMMIT DROP")
        with cur.copy(f"COPY {tmp} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([c.type.compile(dialect=conn.dialect).lower() for c in table.c])
            for row in values:
                copy.write_row(row)
        cur.execute(f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {tmp} {conflict}")
        cur.execute(f"DROP TABLE {tmp}")


def upsert_stats(conn: Connection, *, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or replace ``variability_stats`` rows (every column given)."""
    _upsert(conn, variability_stats, rows)


def upsert_stats_values(conn: Connection, *, values: Sequence[Sequence[Any]]) -> None:
    """:func:`upsert_stats` of tuples in :data:`STATS_COLUMNS` order (the hot path)."""
    _upsert_values(conn, variability_stats, values)


def upsert_sums(conn: Connection, *, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or replace ``variability_sums`` rows."""
    _upsert(conn, variability_sums, rows)


def upsert_sums_values(conn: Connection, *, values: Sequence[Sequence[Any]]) -> None:
    """:func:`upsert_sums` of tuples in :data:`SUMS_COLUMNS` order (the hot path)."""
    _upsert_values(conn, variability_sums, values)


SumsRow = tuple[str, float | None, float | None, float | None]
"""``(state, last_good_mjd, last_good_flux_mjy, last_good_err_mjy)``."""


def get_sums(conn: Connection, *, source_ids: Sequence[str]) -> dict[str, SumsRow]:
    """Running state of those of ``source_ids`` that have one, in one query.

    The ids travel as one parameter, a JSON array (read with SQLite's ``json_each``,
    PostgreSQL's ``jsonb_array_elements_text``), so 10,000 ids cost one statement.
    """
    ids = list(source_ids)
    if not ids:
        return {}
    cols = "source_id, state, last_good_mjd, last_good_flux_mjy, last_good_err_mjy"
    if conn.dialect.name == "sqlite":
        sql = (
            f"SELECT {cols} FROM {variability_sums.name} "
            "WHERE source_id IN (SELECT value FROM json_each(?))"
        )
        rows = conn.exec_driver_sql(sql, (json.dumps(ids),)).fetchall()
    else:
        sql = (
            f"SELECT {cols} FROM {variability_sums.name} "
            "WHERE source_id IN (SELECT jsonb_array_elements_text(%s::jsonb))"
        )
        rows = conn.exec_driver_sql(sql, (json.dumps(ids),)).fetchall()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def get_stats(conn: Connection, *, source_id: str) -> StatsRow | None:
    found = (
        conn.execute(sa.select(variability_stats).where(variability_stats.c.source_id == source_id))
        .mappings()
        .first()
    )
    return StatsRow(**found) if found is not None else None


def delete_sums_and_orphan_stats(conn: Connection, *, keep_ids: Sequence[str]) -> int:
    """For a full rebuild: drop running state, and stats rows of sources not in
    ``keep_ids`` that no ESE candidate references. Returns rows of stats deleted."""
    from contimg.db.products import ese_candidates

    conn.execute(variability_sums.delete())
    referenced = sa.select(ese_candidates.c.source_id)
    keep = set(keep_ids)
    existing = list(conn.execute(sa.select(variability_stats.c.source_id)).scalars())
    drop = [s for s in existing if s not in keep]
    n = 0
    for i in range(0, len(drop), 500):
        res = conn.execute(
            variability_stats.delete().where(
                variability_stats.c.source_id.in_(drop[i : i + 500]),
                variability_stats.c.source_id.not_in(referenced),
            )
        )
        n += res.rowcount or 0
    return n


def neighbours(
    conn: Connection, *, source_id: str, mjd: float, bad_mask: int, exclude_id: int | None = None
) -> tuple[Neighbour | None, Neighbour | None]:
    """The good measurements just before and just after ``mjd`` of one source."""
    from contimg.db.products import photometry as p

    base = sa.select(p.c.id, p.c.mjd, p.c.peak_jyb, p.c.peak_err_jyb).where(
        p.c.source_id == source_id,
        p.c.flags.op("&")(bad_mask) == 0,
        p.c.peak_err_jyb > 0,
    )
    if exclude_id is not None:
        base = base.where(p.c.id != exclude_id)
    before = (
        conn.execute(base.where(p.c.mjd < mjd).order_by(p.c.mjd.desc(), p.c.id.desc()).limit(1))
        .mappings()
        .first()
    )
    after = (
        conn.execute(base.where(p.c.mjd > mjd).order_by(p.c.mjd, p.c.id).limit(1))
        .mappings()
        .first()
    )
    return (Neighbour(**before) if before else None, Neighbour(**after) if after else None)
