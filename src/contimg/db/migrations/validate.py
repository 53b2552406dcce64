"""Rows of a database made outside contimg that break the constraints it relies on.

Run before an unversioned database is adopted (:func:`contimg.db.migrations.upgrade`)
and by ``contimg db check``. SQLite does not enforce everything the spec's DDL
says: a ``TEXT PRIMARY KEY`` accepts NULL, foreign keys are ignored unless a
connection turns them on, a ``REAL`` column stores any text. Such rows would make
a migration fail half-way with an opaque message, or be silently skipped later
(a photometry row whose image does not exist). Each finding names the table and
the row (its key, and on SQLite its rowid).

Checked, for every table of the database:

* NOT NULL columns and primary-key columns holding NULL;
* primary keys and UNIQUE constraints holding duplicates (impossible in an intact
  SQLite or PostgreSQL file; checked because it costs one index scan), plus the
  uniqueness contimg's own migrations add (:data:`EXTRA_UNIQUE`);
* foreign keys pointing at no row;
* SQLite: numeric columns holding text or blobs; ``sources`` positions off the sky.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.migrations.fingerprint import VERSION_TABLE

EXTRA_UNIQUE: dict[str, list[tuple[str, tuple[str, ...], str, str]]] = {
    "products": [
        (
            "ese_candidates",
            ("source_id", "flag_type"),
            "status = 'active'",
            "products_0003 allows one active candidate per source and flag type; set the "
            "others' status to 'investigated' or 'dismissed'",
        )
    ],
}
"""database -> (table, columns, row filter, why and what to do)."""

_NUMERIC = ("INT", "REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _fmt(value: Any) -> str:
    return "NULL" if value is None else repr(value)


class _Table:
    def __init__(self, conn: Connection, name: str, schema: str | None) -> None:
        insp = sa.inspect(conn)
        self.name = name
        self.columns = insp.get_columns(name, schema=schema)
        self.pk: list[str] = list(
            insp.get_pk_constraint(name, schema=schema)["constrained_columns"]
        )
        self.uniques: list[list[str]] = [
            list(u["column_names"]) for u in insp.get_unique_constraints(name, schema=schema)
        ] + [
            [str(c) for c in i["column_names"]]
            for i in insp.get_indexes(name, schema=schema)
            if i["unique"]
            and None not in i["column_names"]
            and all(v is None for k, v in i.get("dialect_options", {}).items() if "where" in k)
        ]
        self.fks = insp.get_foreign_keys(name, schema=schema)
        self.sqlite = conn.dialect.name == "sqlite"
        # How a row is named: its key (and rowid on SQLite, where a key may be NULL).
        has_rowid = (
            self.sqlite
            and not conn.execute(
                sa.text(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :n "
                    "AND upper(sql) LIKE '%WITHOUT ROWID%'"
                ),
                {"n": name},
            ).first()
        )
        self.label_cols = (["rowid"] if has_rowid and self.pk != ["id"] else []) + self.pk

    def label_sql(self, alias: str = "t") -> str:
        cols = self.label_cols or [c["name"] for c in self.columns[:1]]
        return ", ".join(f"{alias}.{_q(c) if c != 'rowid' else c}" for c in cols)

    def label(self, values: Sequence[Any]) -> str:
        cols = self.label_cols or [c["name"] for c in self.columns[:1]]
        return ", ".join(f"{c}={_fmt(v)}" for c, v in zip(cols, values, strict=False))


def row_problems(
    conn: Connection, *, database: str, schema: str | None = None, limit: int = 5
) -> list[str]:
    """Every kind of constraint breach found, up to ``limit`` rows each, as
    ``table T, row K: what is wrong`` lines."""
    out: list[str] = []
    tables = [
        n
        for n in sa.inspect(conn).get_table_names(schema=schema)
        if n != VERSION_TABLE and not n.startswith("sqlite_")
    ]
    for name in sorted(tables):
        t = _Table(conn, name, schema)
        out += _nulls_and_types(conn, t, limit, database)
        out += _duplicates(conn, t, limit)
        out += _orphans(conn, t, limit)
    for table, cols, where, why in EXTRA_UNIQUE.get(database, []):
        if table in tables:
            out += _duplicates_of(conn, _Table(conn, table, schema), cols, where, why, limit)
    return out


def _nulls_and_types(conn: Connection, t: _Table, limit: int, database: str) -> list[str]:
    conds: list[tuple[str, str, str]] = []  # (condition, value shown, what is wrong)
    for c in t.columns:
        col = f"t.{_q(c['name'])}"
        rowid_alias = t.sqlite and t.pk == [c["name"]] and c["name"] == "id"
        if (not c["nullable"] or c["name"] in t.pk) and not rowid_alias:
            conds.append((f"{col} IS NULL", "", f"{c['name']} is NULL (not allowed)"))
        if t.sqlite and any(k in str(c["type"]).upper() for k in _NUMERIC):
            conds.append(
                (f"typeof({col}) IN ('text', 'blob')", col, f"{c['name']} holds a non-number")
            )
    if database == "master_sources" and t.name == "sources":
        conds.append(("NOT (t.dec_deg BETWEEN -90 AND 90)", "t.dec_deg", "dec_deg is off the sky"))
    if not conds:
        return []
    # One scan of the table for every condition (a 1.8 M-row catalog is read once).
    n_label = len(t.label_cols or [0])
    flags = ", ".join(f"CASE WHEN {cond} THEN 1 ELSE 0 END" for cond, _, _ in conds)
    values = ", ".join(value or "NULL" for _, value, _ in conds)
    rows = conn.execute(
        sa.text(
            f"SELECT {t.label_sql()}, {flags}, {values} FROM {_q(t.name)} AS t "
            f"WHERE {' OR '.join(f'({c})' for c, _, _ in conds)} LIMIT {int(limit) * len(conds)}"
        )
    ).all()
    out: list[str] = []
    shown_per_kind = [0] * len(conds)
    for r in rows:
        label = t.label(r[:n_label])
        hit = r[n_label : n_label + len(conds)]
        vals = r[n_label + len(conds) :]
        for k, (_, value, what) in enumerate(conds):
            if hit[k] and shown_per_kind[k] < limit:
                shown_per_kind[k] += 1
                shown = f" ({_fmt(vals[k])})" if value else ""
                out.append(f"table {t.name}, row {label}: {what}{shown}")
    return out


def _duplicates(conn: Connection, t: _Table, limit: int) -> list[str]:
    out: list[str] = []
    keys = ([t.pk] if t.pk else []) + t.uniques
    for cols in keys:
        out += _duplicates_of(conn, t, tuple(cols), None, None, limit)
    return out


def _duplicates_of(
    conn: Connection,
    t: _Table,
    cols: Sequence[str],
    where: str | None,
    why: str | None,
    limit: int,
) -> list[str]:
    qcols = ", ".join(_q(c) for c in cols)
    conds = [f"{_q(c)} IS NOT NULL" for c in cols] + ([where] if where else [])
    rows = conn.execute(
        sa.text(
            f"SELECT {qcols}, count(*) FROM {_q(t.name)} WHERE {' AND '.join(conds)} "
            f"GROUP BY {qcols} HAVING count(*) > 1 LIMIT {int(limit)}"
        )
    ).all()
    what = why or "must be unique"
    return [
        f"table {t.name}, rows with "
        + ", ".join(f"{c}={_fmt(v)}" for c, v in zip(cols, r[:-1], strict=True))
        + (f" where {where}" if where else "")
        + f": {r[-1]} rows share it ({what})"
        for r in rows
    ]


def _orphans(conn: Connection, t: _Table, limit: int) -> list[str]:
    out: list[str] = []
    n_label = len(t.label_cols or [0])
    for fk in t.fks:
        child, parent = fk["constrained_columns"], fk["referred_columns"]
        ref = fk["referred_table"]
        schema = fk.get("referred_schema")
        ref_q = f"{_q(schema)}.{_q(ref)}" if schema else _q(ref)
        match = " AND ".join(f"p.{_q(p)} = t.{_q(c)}" for c, p in zip(child, parent, strict=True))
        notnull = " AND ".join(f"t.{_q(c)} IS NOT NULL" for c in child)
        rows = conn.execute(
            sa.text(
                f"SELECT {t.label_sql()}, {', '.join(f't.{_q(c)}' for c in child)} "
                f"FROM {_q(t.name)} AS t WHERE {notnull} AND NOT EXISTS "
                f"(SELECT 1 FROM {ref_q} AS p WHERE {match}) LIMIT {int(limit)}"
            )
        ).all()
        for r in rows:
            vals = ", ".join(f"{c}={_fmt(v)}" for c, v in zip(child, r[n_label:], strict=True))
            out.append(
                f"table {t.name}, row {t.label(r[:n_label])}: {vals} refers to "
                f"{ref}.{', '.join(parent)}, which has no such row"
            )
    return out
