"""Reprocessing an archive: put finished groups back in the queue, optionally with other
calibration / imaging / photometry settings, keeping or replacing their products.

``contimg reprocess`` selects groups (those with files under a directory, scanned
first so new files become groups without the watcher; or a time range of groups
already known), writes one ``reprocess_requests`` row per group and sets it
``pending``. Any worker, on any machine sharing the database, then takes them like
any other group. When a worker claims a group that has an open request it:

1. applies the request's setting overrides to its own settings, for this group only;
2. the first time (``started_at`` unset), unless the request replaces products,
   moves the group's product directory to ``products/previous/<run_tag>/<group>``,
   so the earlier MS, images and logs are kept;
3. runs the stages as usual (they replace the group's database rows), and marks the
   request done when the group completes.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from contimg.config import Settings
from contimg.db.engine import Database
from contimg.db.ingest import ingest_queue, reprocess_requests, subband_files
from contimg.errors import ContimgError

log = logging.getLogger(__name__)

OVERRIDABLE = ("calibration", "imaging", "photometry")
"""Settings sections a reprocessing run may change."""

FINISHED = ("completed", "failed")
"""Groups in these states are queued again; others are already queued or collecting."""


def parse_overrides(settings: Settings, items: list[str]) -> dict[str, dict[str, str]]:
    """``["imaging.robust=0.5", ...]`` -> ``{"imaging": {"robust": "0.5"}}``, each
    checked against the settings model (a wrong name or value is refused here, not by a
    worker hours later)."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise ContimgError(
                f"--set {item!r}: expected SECTION.NAME=VALUE, e.g. imaging.robust=0.5"
            )
        if section not in OVERRIDABLE:
            raise ContimgError(
                f"--set {item!r}: only {', '.join(OVERRIDABLE)} settings can change in a "
                "reprocessing run"
            )
        model = getattr(settings, section)
        if name not in type(model).model_fields:
            known = ", ".join(sorted(type(model).model_fields))
            raise ContimgError(f"--set {item!r}: {section} has no setting {name!r} ({known})")
        out.setdefault(section, {})[name] = value.strip()
    apply_overrides(settings, out)  # validates every value
    return out


def apply_overrides(settings: Settings, overrides: dict[str, dict[str, Any]]) -> Settings:
    """``settings`` with the overrides applied (validated like the environment's)."""
    if not overrides:
        return settings
    update = {}
    for section, values in overrides.items():
        model = getattr(settings, section)
        try:
            update[section] = type(model).model_validate({**model.model_dump(), **values})
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ContimgError(
                f"reprocess setting {section}.{err['loc'][0]}={err.get('input')!r}: {err['msg']}"
            ) from None
    return settings.model_copy(update=update)


# -- selection and queueing -------------------------------------------------------


def groups_in_range(conn: Connection, *, start: str | None, end: str | None) -> list[str]:
    """Group ids (``YYYY-MM-DDTHH:MM:SS``, UTC) between ``start`` and ``end`` inclusive."""
    q = ingest_queue.c
    stmt = sa.select(q.group_id).order_by(q.group_id)
    if start:
        stmt = stmt.where(q.group_id >= start)
    if end:
        stmt = stmt.where(q.group_id <= end)
    return [str(g) for g in conn.execute(stmt).scalars()]


def groups_under(conn: Connection, *, directory: Path) -> list[str]:
    """Groups with at least one subband file under ``directory``."""
    prefix = str(directory).rstrip("/") + "/"
    f = subband_files.c
    stmt = (
        sa.select(f.group_id)
        .where(f.file_path.like(prefix.replace("%", r"\%").replace("_", r"\_") + "%", escape="\\"))
        .distinct()
        .order_by(f.group_id)
    )
    return [str(g) for g in conn.execute(stmt).scalars()]


@dataclass
class QueueReport:
    run_tag: str
    queued: list[str] = field(default_factory=list)
    """Finished groups set back to pending."""
    already_queued: list[str] = field(default_factory=list)
    """Groups pending, being processed or collecting: they get the request, not a reset."""


def enqueue(
    db: Database,
    *,
    group_ids: list[str],
    run_tag: str,
    overrides: dict[str, dict[str, str]],
    keep_previous: bool,
    now: float | None = None,
) -> QueueReport:
    """Queue ``group_ids`` again under ``run_tag``: one transaction, all or nothing."""
    now = time.time() if now is None else now
    report = QueueReport(run_tag=run_tag)
    q = ingest_queue.c
    with db.write() as conn:
        states = dict(
            conn.execute(sa.select(q.group_id, q.state).where(q.group_id.in_(group_ids))).all()
        )
        missing = [g for g in group_ids if g not in states]
        if missing:
            raise ContimgError(f"no group {missing[0]} in the ingest queue")
        conn.execute(
            reprocess_requests.delete().where(reprocess_requests.c.group_id.in_(group_ids))
        )
        conn.execute(
            reprocess_requests.insert(),
            [
                {
                    "group_id": g,
                    "run_tag": run_tag,
                    "overrides": json.dumps(overrides, sort_keys=True),
                    "keep_previous": 1 if keep_previous else 0,
                    "requested_at": now,
                }
                for g in group_ids
            ],
        )
        finished = [g for g in group_ids if states[g] in FINISHED]
        if finished:
            conn.execute(
                ingest_queue.update()
                .where(q.group_id.in_(finished), q.state.in_(FINISHED))
                .values(
                    state="pending",
                    retry_count=0,
                    error_message=f"queued again by contimg reprocess ({run_tag})",
                    next_attempt_at=None,
                    lease_owner=None,
                    lease_expires_at=None,
                    last_update=now,
                )
            )
        report.queued = finished
        report.already_queued = [g for g in group_ids if states[g] not in FINISHED]
    return report


def progress(db: Database, *, run_tag: str) -> dict[str, int]:
    """Groups of a run by queue state (``done`` = requests finished)."""
    r, q = reprocess_requests.c, ingest_queue.c
    with db.read() as conn:
        rows = conn.execute(
            sa.select(q.state, sa.func.count())
            .select_from(reprocess_requests.join(ingest_queue, r.group_id == q.group_id))
            .where(r.run_tag == run_tag)
            .group_by(q.state)
        ).all()
    return {str(s): int(n) for s, n in rows}


# -- the worker's side ------------------------------------------------------------


def prepare(settings: Settings, db: Database, *, group_id: str, workdir: Path) -> Settings:
    """Called by a worker on a claimed group: the settings to process it with (the
    request's overrides, if any), after moving earlier products aside once."""
    r = reprocess_requests.c
    with db.read() as conn:
        row = (
            conn.execute(
                sa.select(reprocess_requests).where(r.group_id == group_id, r.done_at.is_(None))
            )
            .mappings()
            .first()
        )
    if row is None:
        return settings
    overrides = json.loads(row["overrides"] or "{}")
    effective = apply_overrides(settings, overrides)
    if row["started_at"] is None:
        if row["keep_previous"] and workdir.is_dir() and any(workdir.iterdir()):
            keep = settings.products_path / "previous" / row["run_tag"] / group_id
            keep.parent.mkdir(parents=True, exist_ok=True)
            if keep.exists():  # an earlier attempt of the same run moved it already
                shutil.rmtree(workdir)
            else:
                workdir.rename(keep)
            log.info("%s: earlier products kept in %s", group_id, keep)
        with db.write() as conn:
            conn.execute(
                reprocess_requests.update()
                .where(r.group_id == group_id)
                .values(started_at=time.time())
            )
    if overrides:
        log.info("%s: reprocessing run %s with %s", group_id, row["run_tag"], overrides)
    return effective


def finish(db: Database, *, group_id: str) -> None:
    """Mark the group's open request done (after the group completed). A failure here
    is logged, never raised: the group's completion is already recorded."""
    r = reprocess_requests.c
    try:
        with db.write() as conn:
            conn.execute(
                reprocess_requests.update()
                .where(r.group_id == group_id, r.done_at.is_(None))
                .values(done_at=time.time())
            )
    except Exception:
        log.exception("%s: could not mark its reprocessing request done", group_id)
