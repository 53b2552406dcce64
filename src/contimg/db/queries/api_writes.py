"""Writes the dashboard makes, for domain modules that had not landed when the API
was written (see docs/api.md, "Writes"). Each is one short transaction's worth of
SQL, run inside ``Database.write()``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.db.cal_registry import caltables
from contimg.db.products import ese_candidates, variability_stats

# ------------------------------------------------------------------ calibration


def set_calibration_active(conn: Connection, *, set_name: str, active: bool) -> int:
    """Mark every table of ``set_name`` active (1) or inactive (0); the number of
    tables of the set (0: no such set)."""
    c = caltables
    result = conn.execute(
        c.update().where(c.c.set_name == set_name).values(active=1 if active else 0)
    )
    return int(result.rowcount)


def applicable_set_name(conn: Connection, *, mjd: float) -> str | None:
    """The calibration set applied to data taken at ``mjd``: among sets whose every
    table is active and covers ``mjd``, the most recently created (ties: name)."""
    c = caltables
    covering = (
        sa.select(
            c.c.set_name,
            sa.func.max(c.c.created_at).label("created"),
        )
        .group_by(c.c.set_name)
        .having(sa.func.min(sa.func.coalesce(c.c.active, 1)) == 1)
        .having(sa.func.max(c.c.valid_start_mjd) <= mjd)
        .having(sa.func.min(c.c.valid_end_mjd) >= mjd)
        .order_by(sa.desc("created"), c.c.set_name.desc())
        .limit(1)
    )
    row = conn.execute(covering).first()
    return None if row is None else str(row[0])


# ---------------------------------------------------------------- ESE candidates


def _stamp(now: float, author: str | None) -> str:
    when = datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"[{when}{' ' + author if author else ''}]"


def _appended(old: str | None, note: str, *, now: float, author: str | None) -> str:
    line = f"{_stamp(now, author)} {note.strip()}"
    return line if not old else f"{old.rstrip()}\n{line}"


def get_candidate(conn: Connection, *, candidate_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(ese_candidates).where(ese_candidates.c.id == candidate_id)).first()
    return None if row is None else dict(row._mapping)


def set_candidate_status(
    conn: Connection,
    *,
    candidate_id: int,
    status: str,
    now: float,
    note: str | None = None,
    author: str | None = None,
) -> bool:
    """Move a candidate to ``status`` (the table's words: active, investigated,
    dismissed), stamping ``investigated_at`` / ``dismissed_at``; an optional note is
    appended (notes are never overwritten). False when there is no such candidate."""
    e = ese_candidates
    old = get_candidate(conn, candidate_id=candidate_id)
    if old is None:
        return False
    values: dict[str, Any] = {"status": status}
    if status == "investigated":
        values["investigated_at"] = now
    elif status == "dismissed":
        values["dismissed_at"] = now
    if note:
        values["notes"] = _appended(old["notes"], note, now=now, author=author)
    conn.execute(e.update().where(e.c.id == candidate_id).values(**values))
    return True


def append_candidate_note(
    conn: Connection, *, candidate_id: int, note: str, now: float, author: str | None = None
) -> bool:
    """Append a time-stamped note to a candidate; False when there is no such one."""
    e = ese_candidates
    old = get_candidate(conn, candidate_id=candidate_id)
    if old is None:
        return False
    notes = _appended(old["notes"], note, now=now, author=author)
    conn.execute(e.update().where(e.c.id == candidate_id).values(notes=notes))
    return True


def flag_source(
    conn: Connection,
    *,
    source_id: str,
    flagged_by: str,
    now: float,
    significance: float | None = None,
    notes: str | None = None,
) -> int | None:
    """Flag a source by hand (``flag_type='user'``). At most one open user flag per
    source: flagging again appends the notes to it. Returns the candidate id, or None
    when the source has no variability statistics (it was never measured)."""
    e, v = ese_candidates, variability_stats
    sigma = conn.execute(sa.select(v.c.sigma_deviation).where(v.c.source_id == source_id)).first()
    if sigma is None:
        return None
    existing = conn.execute(
        sa.select(e.c.id, e.c.notes).where(
            e.c.source_id == source_id, e.c.flag_type == "user", e.c.status == "active"
        )
    ).first()
    if existing is not None:
        if notes:
            conn.execute(
                e.update()
                .where(e.c.id == existing[0])
                .values(notes=_appended(existing[1], notes, now=now, author=flagged_by))
            )
        return int(existing[0])
    sig = significance if significance is not None else float(sigma[0] or 0.0)
    result = conn.execute(
        e.insert().values(
            source_id=source_id,
            flagged_at=now,
            flagged_by=flagged_by,
            significance=sig,
            flag_type="user",
            notes=_appended(None, notes, now=now, author=flagged_by) if notes else None,
            status="active",
        )
    )
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])
