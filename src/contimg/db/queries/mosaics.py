"""SQL of the mosaic builder and scheduler: input images, ``mosaics`` rows,
``mosaic_windows`` claims, and the ingest-queue facts that say a window is complete.

The dashboard's "recent mosaics" listing is :func:`contimg.db.queries.patterns.recent_mosaics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.ingest import ingest_queue
from contimg.db.products import images, mosaic_windows, mosaics, ms_index
from contimg.db.queries.bulk import dialect_insert

PBCOR = "pbcor"

MOSAIC_COLUMNS: tuple[str, ...] = tuple(c.name for c in mosaics.c if c.name != "id")
"""Every column of a ``mosaics`` row the builder fills."""


@dataclass(frozen=True)
class InputImage:
    """A primary-beam-corrected image that can go into a mosaic."""

    path: str
    ms_path: str
    mid_mjd: float
    start_mjd: float | None
    end_mjd: float | None
    noise_jy: float | None
    pointing_ra_deg: float | None
    """Mid-time meridian pointing (``ms_index``; else the image centre): the beam centre."""
    pointing_dec_deg: float | None
    freq_ghz: float | None
    beam_major_arcsec: float | None
    beam_minor_arcsec: float | None
    beam_pa_deg: float | None
    integration_sec: float | None
    cellsize_arcsec: float | None


@dataclass(frozen=True, slots=True)
class MosaicRow:
    """A ``mosaics`` row (columns in table order)."""

    id: int
    path: str
    name: str
    created_at: float
    start_mjd: float
    end_mjd: float
    integration_sec: float | None
    n_images: int | None
    center_ra_deg: float | None
    center_dec_deg: float | None
    dec_min_deg: float | None
    dec_max_deg: float | None
    noise_jy: float | None
    beam_major_arcsec: float | None
    beam_minor_arcsec: float | None
    beam_pa_deg: float | None
    n_sources: int | None
    thumbnail_path: str | None


@dataclass(frozen=True, slots=True)
class WindowRow:
    """A ``mosaic_windows`` row (columns in table order)."""

    window_key: str
    start_mjd: float
    end_mjd: float
    dec_min_deg: float
    dec_max_deg: float
    state: str
    claimed_by: str | None
    claimed_at: float | None
    attempts: int
    mosaic_path: str | None
    error_message: str | None
    updated_at: float


def select_input_images(
    conn: Connection,
    *,
    start_mjd: float,
    end_mjd: float,
    dec_min_deg: float | None = None,
    dec_max_deg: float | None = None,
) -> list[InputImage]:
    """'pbcor' images whose observation mid-time lies in ``[start_mjd, end_mjd)``.

    The Dec range (inclusive) applies to the pointing (the Measurement Set's
    pointing Dec, else the image's ``center_dec_deg``). Measurement
    Sets marked 'failed' are left out. Ordered by mid-time, then path.
    """
    dec = sa.func.coalesce(ms_index.c.pointing_dec_deg, images.c.center_dec_deg)
    query = (
        sa.select(
            images.c.path,
            images.c.ms_path,
            ms_index.c.mid_mjd,
            ms_index.c.start_mjd,
            ms_index.c.end_mjd,
            images.c.noise_jy,
            sa.func.coalesce(ms_index.c.pointing_ra_deg, images.c.center_ra_deg).label(
                "pointing_ra_deg"
            ),
            dec.label("pointing_dec_deg"),
            images.c.freq_ghz,
            images.c.beam_major_arcsec,
            images.c.beam_minor_arcsec,
            images.c.beam_pa_deg,
            images.c.integration_sec,
            images.c.cellsize_arcsec,
        )
        .join(ms_index, images.c.ms_path == ms_index.c.path)
        .where(
            images.c.type == PBCOR,
            ms_index.c.mid_mjd >= start_mjd,
            ms_index.c.mid_mjd < end_mjd,
            sa.or_(ms_index.c.status.is_(None), ms_index.c.status != "failed"),
        )
        .order_by(ms_index.c.mid_mjd, images.c.path)
    )
    if dec_min_deg is not None:
        query = query.where(dec >= dec_min_deg)
    if dec_max_deg is not None:
        query = query.where(dec <= dec_max_deg)
    return [InputImage(**dict(r._mapping)) for r in conn.execute(query)]


def pbcor_image_epochs(conn: Connection, *, since_mjd: float) -> list[tuple[float, float]]:
    """``(mid_mjd, pointing Dec)`` of every 'pbcor' image observed at or after ``since_mjd``."""
    dec = sa.func.coalesce(ms_index.c.pointing_dec_deg, images.c.center_dec_deg)
    query = (
        sa.select(ms_index.c.mid_mjd, dec)
        .join(ms_index, images.c.ms_path == ms_index.c.path)
        .where(
            images.c.type == PBCOR,
            ms_index.c.mid_mjd >= since_mjd,
            dec.is_not(None),
            sa.or_(ms_index.c.status.is_(None), ms_index.c.status != "failed"),
        )
        .order_by(ms_index.c.mid_mjd)
    )
    return [(float(m), float(d)) for m, d in conn.execute(query)]


def latest_observation_mjd(conn: Connection) -> float | None:
    """Largest ``ms_index.mid_mjd`` (the newest observation known to the products database)."""
    value = conn.execute(sa.select(sa.func.max(ms_index.c.mid_mjd))).scalar()
    return None if value is None else float(value)


def latest_observation_end_mjd(conn: Connection) -> float | None:
    """Largest observation end of ``ms_index`` (``end_mjd``, else ``mid_mjd``)."""
    value = conn.execute(
        sa.select(sa.func.max(sa.func.coalesce(ms_index.c.end_mjd, ms_index.c.mid_mjd)))
    ).scalar()
    return None if value is None else float(value)


# --- mosaics rows -------------------------------------------------------------------------


def get_mosaic(
    conn: Connection, *, path: str | None = None, name: str | None = None
) -> MosaicRow | None:
    """The ``mosaics`` row with this path (or, else, the newest with this name)."""
    query = sa.select(mosaics)
    if path is not None:
        query = query.where(mosaics.c.path == path)
    elif name is not None:
        query = query.where(mosaics.c.name == name).order_by(mosaics.c.created_at.desc())
    else:
        raise ValueError("give a path or a name")
    row = conn.execute(query.limit(1)).first()
    return None if row is None else MosaicRow(**row._mapping)


def save_mosaic(conn: Connection, *, row: Mapping[str, Any]) -> int:
    """Insert the ``mosaics`` row, or replace the one with the same path; returns its id."""
    missing = [c for c in MOSAIC_COLUMNS if c not in row]
    if missing:
        raise ValueError(f"mosaics row lacks {', '.join(missing)}")
    values = {c: row[c] for c in MOSAIC_COLUMNS}
    existing = conn.execute(
        sa.select(mosaics.c.id).where(mosaics.c.path == values["path"])
    ).scalar()
    if existing is not None:
        conn.execute(sa.update(mosaics).where(mosaics.c.id == existing).values(**values))
        return int(existing)
    result = conn.execute(sa.insert(mosaics).values(**values).returning(mosaics.c.id))
    return int(result.scalar_one())


def list_mosaics_in_range(
    conn: Connection, *, start_mjd: float | None = None, end_mjd: float | None = None
) -> list[MosaicRow]:
    """Mosaics overlapping ``[start_mjd, end_mjd]`` (either bound optional), oldest first."""
    query = sa.select(mosaics).order_by(mosaics.c.start_mjd, mosaics.c.id)
    if start_mjd is not None:
        query = query.where(mosaics.c.end_mjd >= start_mjd)
    if end_mjd is not None:
        query = query.where(mosaics.c.start_mjd <= end_mjd)
    return [MosaicRow(**r._mapping) for r in conn.execute(query)]


# --- mosaic_windows claims ----------------------------------------------------------------


def claim_window(
    conn: Connection,
    *,
    window_key: str,
    start_mjd: float,
    end_mjd: float,
    dec_min_deg: float,
    dec_max_deg: float,
    claimed_by: str,
    now: float,
) -> bool:
    """Claim a window never seen before (state 'building'); False if it already has a row."""
    stmt = (
        dialect_insert(conn, mosaic_windows)
        .values(
            window_key=window_key,
            start_mjd=start_mjd,
            end_mjd=end_mjd,
            dec_min_deg=dec_min_deg,
            dec_max_deg=dec_max_deg,
            state="building",
            claimed_by=claimed_by,
            claimed_at=now,
            attempts=1,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["window_key"])
        .returning(mosaic_windows.c.window_key)
    )
    return conn.execute(stmt).first() is not None


def reclaim_window(
    conn: Connection,
    *,
    window_key: str,
    claimed_by: str,
    now: float,
    stale_before: float,
    max_attempts: int,
    dead_holders: Sequence[str] = (),
) -> bool:
    """Take over a window released by an interrupted build ('pending'), whose build
    failed, or whose claim went stale (not renewed since ``stale_before``, or held by
    one of ``dead_holders``: schedulers known to be dead), while it has attempts left.
    True if this caller now holds it."""
    w = mosaic_windows
    stale = w.c.claimed_at < stale_before
    if dead_holders:
        stale = sa.or_(stale, w.c.claimed_by.in_(list(dead_holders)))
    stmt = (
        sa.update(w)
        .where(
            w.c.window_key == window_key,
            w.c.attempts < max_attempts,
            sa.or_(
                sa.and_(w.c.state == "building", stale),
                w.c.state.in_(("failed", "pending")),
            ),
        )
        .values(
            state="building",
            claimed_by=claimed_by,
            claimed_at=now,
            attempts=w.c.attempts + 1,
            updated_at=now,
        )
    )
    return bool(conn.execute(stmt).rowcount == 1)


def renew_claim(conn: Connection, *, window_key: str, claimed_by: str, now: float) -> bool:
    """Heartbeat of a build in progress: move ``claimed_at`` to ``now``. False if the
    caller no longer holds the window."""
    w = mosaic_windows
    stmt = (
        sa.update(w)
        .where(w.c.window_key == window_key, w.c.claimed_by == claimed_by, w.c.state == "building")
        .values(claimed_at=now)
    )
    return bool(conn.execute(stmt).rowcount == 1)


def release_window(
    conn: Connection, *, window_key: str, claimed_by: str, now: float, reason: str
) -> bool:
    """Give back a window whose build was interrupted (a shutdown): state 'pending',
    no holder, the attempt not counted, so the next pass builds it again at once."""
    w = mosaic_windows
    stmt = (
        sa.update(w)
        .where(w.c.window_key == window_key, w.c.claimed_by == claimed_by, w.c.state == "building")
        .values(
            state="pending",
            claimed_by=None,
            claimed_at=None,
            attempts=sa.case((w.c.attempts > 0, w.c.attempts - 1), else_=0),
            error_message=reason,
            updated_at=now,
        )
    )
    return bool(conn.execute(stmt).rowcount == 1)


def finish_window(
    conn: Connection,
    *,
    window_key: str,
    claimed_by: str,
    state: str,
    now: float,
    mosaic_path: str | None = None,
    error_message: str | None = None,
) -> bool:
    """Record the outcome ('done', 'empty' or 'failed') of a window this caller holds."""
    if state not in ("done", "empty", "failed"):
        raise ValueError(f"unknown window state {state!r}")
    w = mosaic_windows
    stmt = (
        sa.update(w)
        .where(w.c.window_key == window_key, w.c.claimed_by == claimed_by, w.c.state == "building")
        .values(state=state, mosaic_path=mosaic_path, error_message=error_message, updated_at=now)
    )
    return bool(conn.execute(stmt).rowcount == 1)


def window_states(conn: Connection, *, since_mjd: float) -> dict[str, WindowRow]:
    """Every window row starting at or after ``since_mjd``, by key."""
    rows = conn.execute(sa.select(mosaic_windows).where(mosaic_windows.c.start_mjd >= since_mjd))
    return {r.window_key: WindowRow(**r._mapping) for r in rows}


def list_windows(conn: Connection, *, limit: int = 50) -> list[WindowRow]:
    """The newest window rows (by start), newest first."""
    rows = conn.execute(
        sa.select(mosaic_windows)
        .order_by(mosaic_windows.c.start_mjd.desc(), mosaic_windows.c.window_key)
        .limit(limit)
    )
    return [WindowRow(**r._mapping) for r in rows]


# --- ingest-queue facts (ingest database) ---------------------------------------------------


def unfinished_groups(conn: Connection, *, first_group_id: str, end_group_id: str) -> list[str]:
    """Groups with ``first_group_id <= group_id < end_group_id`` still on their way.

    Finished means 'completed', or 'failed' with no retry scheduled. Group ids are
    ``YYYY-MM-DDTHH:MM:SS`` timestamps, so their text order is time order.
    """
    q = ingest_queue
    finished = sa.or_(
        q.c.state == "completed",
        sa.and_(q.c.state == "failed", q.c.next_attempt_at.is_(None)),
    )
    rows = conn.execute(
        sa.select(q.c.group_id)
        .where(q.c.group_id >= first_group_id, q.c.group_id < end_group_id, sa.not_(finished))
        .order_by(q.c.group_id)
    )
    return [str(r[0]) for r in rows]


def latest_group(conn: Connection) -> tuple[str | None, float | None]:
    """The newest group id and the newest ``received_at`` (Unix s) of the ingest queue."""
    row = conn.execute(
        sa.select(sa.func.max(ingest_queue.c.group_id), sa.func.max(ingest_queue.c.received_at))
    ).one()
    return (
        None if row[0] is None else str(row[0]),
        None if row[1] is None else float(row[1]),
    )
