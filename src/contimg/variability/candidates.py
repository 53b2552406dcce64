"""ESE candidates: thresholds, automatic and user flags, the status workflow."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.engine import Connection

from contimg.config import PhotometrySettings
from contimg.db.engine import Databases
from contimg.db.queries import ese as eq
from contimg.db.queries import variability as vq
from contimg.errors import ContimgError, NotFoundError
from contimg.science import ese as ese_rules
from contimg.variability.reasons import Reason, reason_json
from contimg.variability.rebuild import recompute_sources


def thresholds(cfg: PhotometrySettings) -> ese_rules.EseThresholds:
    return ese_rules.EseThresholds(
        sigma_deviation=cfg.ese_sigma_deviation,
        chi2_nu=cfg.ese_chi2_nu,
        min_obs=cfg.ese_min_obs,
        rapid_vs=cfg.rapid_vs,
        rapid_m=cfg.rapid_m,
        false_alarm=cfg.ese_false_alarm,
        trials_horizon=cfg.ese_trials_horizon,
    )


def auto_flag(
    conn: Connection, *, source_id: str, flag_type: str, significance: float, now: float,
    reason: Reason = None,
) -> int:  # fmt: skip
    """Open or raise the automatic candidate of a source and type; 1 if anything changed.

    An active candidate has its significance raised (never a second row), and its
    ``reason`` replaced by the stronger detection's. After a person has closed one
    (investigated/dismissed), a new active candidate is opened only when the new
    significance exceeds the closed one's.
    """
    current = eq.open_candidate(conn, source_id=source_id, flag_type=flag_type)
    if current is not None:
        if significance > float(current.significance):
            eq.raise_significance(
                conn, candidate_id=int(current.id), significance=significance,
                reason=reason_json(reason),
            )  # fmt: skip
            return 1
        return 0
    closed = eq.latest_closed(conn, source_id=source_id, flag_type=flag_type)
    if closed is not None and significance <= float(closed.significance):
        return 0
    eq.insert_candidate(
        conn, source_id=source_id, flag_type=flag_type, significance=significance, now=now,
        flagged_by="auto", notes=None, reason=reason_json(reason),
    )  # fmt: skip
    return 1


def user_flag(
    dbs: Databases, *, source_id: str, note: str, author: str, now: float | None = None
) -> int:
    """Flag a source by hand ('user' candidate); returns the candidate id.

    Needs the source's ``variability_stats`` row (foreign key): built from its
    photometry when missing. An open 'user' candidate gets the note appended.
    """
    now = time.time() if now is None else now
    th_sig = None
    with dbs.products.write() as conn:
        stats = vq.get_stats(conn, source_id=source_id)
        if stats is not None:
            th_sig = stats.sigma_deviation or 0.0
        else:
            (rows, sums), _ = recompute_sources(
                conn, [source_id], th=ese_rules.EseThresholds(), now=now
            )
            if not rows:
                raise NotFoundError(
                    f"source {source_id!r} has no good photometry, so no variability_stats row to "
                    "attach a candidate to; check the id with 'contimg ese list' or the catalog"
                )
            vq.upsert_stats(conn, rows=rows)
            vq.upsert_sums(conn, rows=sums)
            th_sig = rows[0].get("sigma_deviation") or 0.0
        current = eq.open_candidate(conn, source_id=source_id, flag_type="user")
        if current is not None:
            notes = ese_rules.append_note(current.notes, note, author=author, at=now)
            eq.update_candidate(conn, candidate_id=int(current.id), values={"notes": notes})
            return int(current.id)
        return eq.insert_candidate(
            conn, source_id=source_id, flag_type="user", significance=float(th_sig), now=now,
            flagged_by=author, notes=ese_rules.append_note(None, note, author=author, at=now),
        )  # fmt: skip


def set_candidate_status(
    dbs: Databases,
    *,
    candidate_id: int,
    status: str,
    note: str,
    author: str,
    now: float | None = None,
) -> eq.CandidateRow:
    """Move a candidate through the workflow, appending a dated note; returns the row."""
    now = time.time() if now is None else now
    status = ese_rules.normalise_status(status)
    with dbs.products.write() as conn:
        row = eq.get_candidate(conn, candidate_id=candidate_id)
        if row is None:
            raise NotFoundError(f"ESE candidate {candidate_id} does not exist")
        old = str(row.status or "active")
        try:
            ese_rules.check_transition(old, status)
        except ValueError as exc:
            raise ContimgError(f"candidate {candidate_id}: {exc}") from None
        if status == "active":
            other = eq.open_candidate(conn, source_id=row.source_id, flag_type=row.flag_type)
            if other is not None:
                raise ContimgError(
                    f"candidate {candidate_id}: source {row.source_id} already has an active "
                    f"{row.flag_type!r} candidate ({other.id}); add notes there instead"
                )
        values: dict[str, Any] = {
            "status": status,
            "notes": ese_rules.append_note(
                row.notes, note, author=author, at=now, change=f"{old}->{status}"
            ),
        }
        if status == "investigated":
            values["investigated_at"] = now
        elif status == "dismissed":
            values["dismissed_at"] = now
        eq.update_candidate(conn, candidate_id=candidate_id, values=values)
        updated = eq.get_candidate(conn, candidate_id=candidate_id)
    assert updated is not None
    return updated
