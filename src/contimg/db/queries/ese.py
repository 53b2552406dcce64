"""SQL for ``ese_candidates``: open/raise automatic candidates, user flags, status, notes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.products import ese_candidates as e
from contimg.db.products import variability_stats


@dataclass(frozen=True, slots=True)
class CandidateRow:
    """An ``ese_candidates`` row (columns in table order)."""

    id: int
    source_id: str
    flagged_at: float
    flagged_by: str | None
    significance: float
    flag_type: str
    notes: str | None
    status: str | None
    investigated_at: float | None
    dismissed_at: float | None
    reason: str | None
    """JSON text (products_0007): why it was flagged."""


@dataclass(frozen=True, slots=True)
class CandidateListRow(CandidateRow):
    """A candidate with its source's statistics (an inner join, so the position is set)."""

    ra_deg: float
    dec_deg: float
    n_obs: int | None
    chi2_nu: float | None
    sigma_deviation: float | None


def open_candidate(conn: Connection, *, source_id: str, flag_type: str) -> CandidateRow | None:
    """The active candidate of a source and flag type, if any."""
    found = (
        conn.execute(
            sa.select(e).where(
                e.c.source_id == source_id, e.c.flag_type == flag_type, e.c.status == "active"
            )
        )
        .mappings()
        .first()
    )
    return CandidateRow(**found) if found is not None else None


def latest_closed(conn: Connection, *, source_id: str, flag_type: str) -> CandidateRow | None:
    """The most recent investigated/dismissed candidate of a source and type."""
    found = (
        conn.execute(
            sa.select(e)
            .where(e.c.source_id == source_id, e.c.flag_type == flag_type, e.c.status != "active")
            .order_by(e.c.flagged_at.desc(), e.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return CandidateRow(**found) if found is not None else None


def insert_candidate(
    conn: Connection,
    *,
    source_id: str,
    flag_type: str,
    significance: float,
    now: float,
    flagged_by: str,
    notes: str | None,
    reason: str | None = None,
) -> int:
    """Insert an active candidate; returns its id (``reason``: JSON text, products_0007)."""
    result = conn.execute(
        e.insert()
        .values(
            source_id=source_id,
            flagged_at=now,
            flagged_by=flagged_by,
            significance=significance,
            flag_type=flag_type,
            notes=notes,
            status="active",
            reason=reason,
        )
        .returning(e.c.id)
    )
    return int(result.scalar_one())


def raise_significance(
    conn: Connection, *, candidate_id: int, significance: float, reason: str | None = None
) -> None:
    """Raise an open candidate's significance (never lowers it); with ``reason`` (JSON)
    the reason is replaced by the one of the stronger detection."""
    values: dict[str, Any] = {"significance": significance}
    if reason is not None:
        values["reason"] = reason
    conn.execute(
        e.update().where(e.c.id == candidate_id, e.c.significance < significance).values(**values)
    )


def get_candidate(conn: Connection, *, candidate_id: int) -> CandidateRow | None:
    found = conn.execute(sa.select(e).where(e.c.id == candidate_id)).mappings().first()
    return CandidateRow(**found) if found is not None else None


def list_candidates(
    conn: Connection, *, status: str | None = None, source_id: str | None = None, limit: int = 100
) -> list[CandidateListRow]:
    """Candidates, newest first, with the source's statistics."""
    stmt = (
        sa.select(
            e,
            variability_stats.c.ra_deg,
            variability_stats.c.dec_deg,
            variability_stats.c.n_obs,
            variability_stats.c.chi2_nu,
            variability_stats.c.sigma_deviation,
        )
        .select_from(e.join(variability_stats, e.c.source_id == variability_stats.c.source_id))
        .order_by(e.c.flagged_at.desc(), e.c.id.desc())
        .limit(limit)
    )
    if status is not None:
        stmt = stmt.where(e.c.status == status)
    if source_id is not None:
        stmt = stmt.where(e.c.source_id == source_id)
    return [CandidateListRow(**r) for r in conn.execute(stmt).mappings()]


def update_candidate(conn: Connection, *, candidate_id: int, values: dict[str, Any]) -> None:
    conn.execute(e.update().where(e.c.id == candidate_id).values(**values))
