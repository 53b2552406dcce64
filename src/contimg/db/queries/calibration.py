"""SQL of the calibration registry (``caltables``) and the transit record of a group."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.cal_registry import caltables
from contimg.db.ingest import ingest_queue


@dataclass(frozen=True, slots=True)
class CaltableRow:
    """A ``caltables`` row (columns in table order)."""

    id: int
    set_name: str
    path: str
    table_type: str
    order_index: int
    valid_start_mjd: float
    valid_end_mjd: float
    created_at: float
    active: int | None


def replace_set(conn: Connection, *, set_name: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Replace every row of ``set_name`` by ``rows`` (a re-solved transit replaces its set)."""
    paths = [str(r["path"]) for r in rows]
    conn.execute(caltables.delete().where(caltables.c.set_name == set_name))
    conn.execute(caltables.delete().where(caltables.c.path.in_(paths)))
    for row in rows:
        conn.execute(caltables.insert().values(**{**row, "set_name": set_name}))


def set_rows(conn: Connection, *, set_name: str) -> list[CaltableRow]:
    """The tables of ``set_name`` in apply order."""
    result = conn.execute(
        sa.select(caltables)
        .where(caltables.c.set_name == set_name)
        .order_by(caltables.c.order_index)
    ).mappings()
    return [CaltableRow(**r) for r in result]


def all_rows(conn: Connection, *, active_only: bool = False) -> list[CaltableRow]:
    """Every ``caltables`` row (optionally only active ones), by set then order."""
    stmt = sa.select(caltables).order_by(caltables.c.set_name, caltables.c.order_index)
    if active_only:
        stmt = stmt.where(caltables.c.active == 1)
    return [CaltableRow(**r) for r in conn.execute(stmt).mappings()]


def candidate_rows(
    conn: Connection, *, mjd: float, max_extrapolate_days: float
) -> list[CaltableRow]:
    """Active rows whose window lies within ``max_extrapolate_days`` of ``mjd`` (a superset
    of what the lookup rule can pick; the rule itself is in :mod:`contimg.calibration.registry`)."""
    result = conn.execute(
        sa.select(caltables).where(
            caltables.c.active == 1,
            caltables.c.valid_start_mjd <= mjd + max_extrapolate_days,
            caltables.c.valid_end_mjd >= mjd - max_extrapolate_days,
        )
    ).mappings()
    return [CaltableRow(**r) for r in result]


def set_active(conn: Connection, *, set_name: str, active: bool) -> int:
    """(De)activate every table of ``set_name``; returns the number of rows changed."""
    return int(
        conn.execute(
            caltables.update()
            .where(caltables.c.set_name == set_name)
            .values(active=1 if active else 0)
        ).rowcount
    )


def group_received_at(conn: Connection, *, group_id: str) -> float | None:
    """When the ingest queue first saw ``group_id`` (Unix time), or None."""
    value = conn.execute(
        sa.select(ingest_queue.c.received_at).where(ingest_queue.c.group_id == group_id)
    ).scalar()
    return None if value is None else float(value)


def record_transits(
    conn: Connection, *, group_id: str, transits: Sequence[Mapping[str, Any]]
) -> None:
    """Store the full transit record (name, RA, Dec, flux, separation) of ``group_id``."""
    conn.execute(
        ingest_queue.update()
        .where(ingest_queue.c.group_id == group_id)
        .values(
            has_calibrator=1 if transits else 0,
            calibrators=json.dumps([dict(t) for t in transits]),
        )
    )


def has_calibrator(conn: Connection, *, group_id: str) -> bool:
    """True when a calibrator transit was recorded for ``group_id``."""
    value = conn.execute(
        sa.select(ingest_queue.c.has_calibrator).where(ingest_queue.c.group_id == group_id)
    ).scalar()
    return bool(value)
