"""Cheap high-water marks and "what changed since" queries behind the API's live events.

Workers run in other processes (or machines), so the server learns of changes by
polling these marks: each is an indexed MAX or a COUNT over a small table.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.ingest import ingest_queue
from contimg.db.products import ese_candidates, images, mosaics


@dataclass(frozen=True)
class IngestMarks:
    last_update: float
    n_groups: int


@dataclass(frozen=True)
class ProductMarks:
    image_id: int
    mosaic_id: int
    candidate_id: int
    candidate_change_at: float
    candidate_notes_len: int


def ingest_marks(conn: Connection) -> IngestMarks:
    """Newest ``last_update`` and number of groups of the ingest queue."""
    q = ingest_queue
    row = conn.execute(sa.select(sa.func.max(q.c.last_update), sa.func.count())).one()
    return IngestMarks(last_update=float(row[0] or 0.0), n_groups=int(row[1]))


def product_marks(conn: Connection) -> ProductMarks:
    """Largest image, mosaic and candidate ids, the newest candidate status change and
    the total length of candidate notes (so an added note is noticed)."""
    e = ese_candidates
    image_id = conn.execute(sa.select(sa.func.max(images.c.id))).scalar()
    mosaic_id = conn.execute(sa.select(sa.func.max(mosaics.c.id))).scalar()
    row = conn.execute(
        sa.select(
            sa.func.max(e.c.id),
            sa.func.max(e.c.investigated_at),
            sa.func.max(e.c.dismissed_at),
            sa.func.max(e.c.flagged_at),
            sa.func.sum(sa.func.length(sa.func.coalesce(e.c.notes, ""))),
        )
    ).one()
    change = max(float(v) for v in (row[1] or 0.0, row[2] or 0.0, row[3] or 0.0))
    return ProductMarks(
        image_id=int(image_id or 0),
        mosaic_id=int(mosaic_id or 0),
        candidate_id=int(row[0] or 0),
        candidate_change_at=change,
        candidate_notes_len=int(row[4] or 0),
    )


@dataclass(frozen=True, slots=True)
class GroupChange:
    """A group whose ``last_update`` moved (:func:`groups_updated_since`)."""

    group_id: str
    state: str
    last_update: float
    retry_count: int | None
    error_message: str | None


@dataclass(frozen=True, slots=True)
class NewImage:
    """An ``images`` row added (:func:`images_after`)."""

    id: int
    path: str
    ms_path: str
    type: str
    field_name: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class NewMosaic:
    """A ``mosaics`` row added (:func:`mosaics_after`)."""

    id: int
    name: str
    path: str
    start_mjd: float
    end_mjd: float
    created_at: float


@dataclass(frozen=True, slots=True)
class CandidateChange:
    """A candidate created or moved (:func:`candidates_changed`)."""

    id: int
    source_id: str
    flag_type: str
    significance: float
    status: str | None
    flagged_at: float


def groups_updated_since(
    conn: Connection, *, last_update: float, limit: int = 500
) -> list[GroupChange]:
    """Groups whose ``last_update`` is newer than ``last_update``, oldest change first."""
    q = ingest_queue
    stmt = (
        sa.select(q.c.group_id, q.c.state, q.c.last_update, q.c.retry_count, q.c.error_message)
        .where(q.c.last_update > last_update)
        .order_by(q.c.last_update, q.c.group_id)
        .limit(limit)
    )
    return [GroupChange(**r) for r in conn.execute(stmt).mappings()]


def images_after(conn: Connection, *, image_id: int, limit: int = 500) -> list[NewImage]:
    """Images with an id above ``image_id``."""
    i = images
    stmt = (
        sa.select(i.c.id, i.c.path, i.c.ms_path, i.c.type, i.c.field_name, i.c.created_at)
        .where(i.c.id > image_id)
        .order_by(i.c.id)
        .limit(limit)
    )
    return [NewImage(**r) for r in conn.execute(stmt).mappings()]


def mosaics_after(conn: Connection, *, mosaic_id: int, limit: int = 500) -> list[NewMosaic]:
    """Mosaics with an id above ``mosaic_id``."""
    m = mosaics
    stmt = (
        sa.select(m.c.id, m.c.name, m.c.path, m.c.start_mjd, m.c.end_mjd, m.c.created_at)
        .where(m.c.id > mosaic_id)
        .order_by(m.c.id)
        .limit(limit)
    )
    return [NewMosaic(**r) for r in conn.execute(stmt).mappings()]


def candidates_changed(
    conn: Connection, *, candidate_id: int, since: float, limit: int = 500
) -> list[CandidateChange]:
    """Candidates created (id above ``candidate_id``) or flagged, investigated or
    dismissed after ``since`` (Unix seconds)."""
    e = ese_candidates
    stmt = (
        sa.select(
            e.c.id, e.c.source_id, e.c.flag_type, e.c.significance, e.c.status, e.c.flagged_at
        )
        .where(
            sa.or_(
                e.c.id > candidate_id,
                e.c.flagged_at > since,
                e.c.investigated_at > since,
                e.c.dismissed_at > since,
            )
        )
        .order_by(e.c.id)
        .limit(limit)
    )
    return [CandidateChange(**r) for r in conn.execute(stmt).mappings()]
