"""Schema fingerprints: a comparable description of a live database's schema.

Used to recognise a database made outside contimg (for example from the
specification's DDL) as one of the known revisions before adopting it, and to
explain precisely how it differs when it matches none.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

VERSION_TABLE = "alembic_version"

Fingerprint = dict[str, Any]


def _norm_sql(text: str | None) -> str:
    if not text:
        return ""
    text = re.sub(r"--[^\n]*", " ", text)
    text = re.sub(r"\bIF\s+NOT\s+EXISTS\b", " ", text, flags=re.I)
    text = re.sub(r"\s+", " ", text).strip().rstrip(";").strip()
    return text.lower()


def _norm_type(type_: Any) -> str:
    return re.sub(r"\s+", " ", str(type_)).upper()


def _norm_default(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    # PostgreSQL renders text defaults as 'auto'::text; SQLite as 'auto'.
    text = re.sub(r"::[a-z ]+$", "", text)
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    return text


def fingerprint(conn: Connection, *, schema: str | None = None) -> Fingerprint:
    """Describe every table (columns, primary key, unique constraints, foreign keys,
    indexes) and view of the database or PostgreSQL ``schema`` behind ``conn``."""
    insp = sa.inspect(conn)
    tables: dict[str, Any] = {}
    for name in sorted(insp.get_table_names(schema=schema)):
        if name == VERSION_TABLE or name.startswith("sqlite_"):
            continue
        columns = {
            c["name"]: {
                "type": _norm_type(c["type"]),
                "nullable": bool(c["nullable"]),
                "default": _norm_default(c.get("default")),
            }
            for c in insp.get_columns(name, schema=schema)
        }
        pk = insp.get_pk_constraint(name, schema=schema)
        uniques = sorted(
            tuple(u["column_names"]) for u in insp.get_unique_constraints(name, schema=schema)
        )
        fks = sorted(
            (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
            for f in insp.get_foreign_keys(name, schema=schema)
        )
        indexes = {
            i["name"]: {"columns": tuple(i["column_names"]), "unique": bool(i["unique"])}
            for i in insp.get_indexes(name, schema=schema)
            if i["name"] is not None
        }
        tables[name] = {
            "columns": columns,
            "primary_key": tuple(pk.get("constrained_columns") or ()),
            "unique": uniques,
            "foreign_keys": fks,
            "indexes": indexes,
        }
    views = {
        name: _norm_sql(insp.get_view_definition(name, schema=schema))
        for name in sorted(insp.get_view_names(schema=schema))
    }
    return {"tables": tables, "views": views}


def diff(expected: Fingerprint, actual: Fingerprint) -> list[str]:
    """Human-readable differences of ``actual`` against ``expected`` (empty if equal)."""
    out: list[str] = []
    exp_t, act_t = expected["tables"], actual["tables"]
    for name in sorted(set(exp_t) - set(act_t)):
        out.append(f"table {name} is missing")
    for name in sorted(set(act_t) - set(exp_t)):
        out.append(f"table {name} is not expected")
    for name in sorted(set(exp_t) & set(act_t)):
        e, a = exp_t[name], act_t[name]
        for col in e["columns"]:
            if col not in a["columns"]:
                out.append(f"table {name}: column {col} is missing")
            elif e["columns"][col] != a["columns"][col]:
                out.append(
                    f"table {name}: column {col} is {a['columns'][col]}, "
                    f"expected {e['columns'][col]}"
                )
        for col in a["columns"]:
            if col not in e["columns"]:
                out.append(f"table {name}: column {col} is not expected")
        for key in ("primary_key", "unique", "foreign_keys"):
            if e[key] != a[key]:
                out.append(f"table {name}: {key} is {a[key]}, expected {e[key]}")
        for idx in sorted(set(e["indexes"]) | set(a["indexes"])):
            ei, ai = e["indexes"].get(idx), a["indexes"].get(idx)
            if ei is None:
                out.append(f"table {name}: index {idx} is not expected")
            elif ai is None:
                out.append(f"table {name}: index {idx} is missing")
            elif ei != ai:
                out.append(f"table {name}: index {idx} is {ai}, expected {ei}")
    exp_v, act_v = expected["views"], actual["views"]
    for name in sorted(set(exp_v) | set(act_v)):
        if name not in act_v:
            out.append(f"view {name} is missing")
        elif name not in exp_v:
            out.append(f"view {name} is not expected")
        elif exp_v[name] != act_v[name]:
            out.append(f"view {name} has a different definition")
    return out
