"""SQL for ``variability_stats`` and its running state ``variability_sums``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.products import variability_stats, variability_sums

STATS_COLUMNS: tuple[str, ...] = tuple(c.name for c in variability_stats.c)
SUMS_COLUMNS: tuple[str, ...] = tuple(c.name for c in variability_sums.c)


def _upsert(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT ... ON CONFLICT (primary key) DO UPDATE, at driver speed (executemany).

    The SQL is built from the Table object's own column names only.
    """
    if not rows:
        return
    cols = [c.name for c in table.c]
    key = [c.name for c in table.primary_key.columns]
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in cols if c not in key)
    )
    conn.exec_driver_sql(sql, list(map(itemgetter(*cols), rows)))


def upsert_stats(conn: Connection, *, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or replace ``variability_stats`` rows (every column given)."""
    _upsert(conn, variability_stats, rows)


def upsert_sums(conn: Connection, *, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or replace ``variability_sums`` rows."""
    _upsert(conn, variability_sums, rows)


def get_sums(conn: Connection, *, source_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Running state of those sources that have one."""
    out: dict[str, dict[str, Any]] = {}
    ids = list(source_ids)
    names = SUMS_COLUMNS
    for i in range(0, len(ids), 900):
        rows = conn.execute(
            sa.select(variability_sums).where(variability_sums.c.source_id.in_(ids[i : i + 900]))
        )
        for r in rows:
            out[r[0]] = dict(zip(names, r, strict=True))
    return out


def get_stats(conn: Connection, *, source_id: str) -> dict[str, Any] | None:
    found = (
        conn.execute(sa.select(variability_stats).where(variability_stats.c.source_id == source_id))
        .mappings()
        .first()
    )
    return dict(found) if found is not None else None


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
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
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
    return (dict(before) if before else None, dict(after) if after else None)
