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

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contimg.config import Settings
from contimg.db.engine import Database
from contimg.db.queries.ingest import reprocess as rq
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
    with db.write() as conn:
        states = rq.group_states(conn, group_ids=group_ids)
        missing = [g for g in group_ids if g not in states]
        if missing:
            raise ContimgError(f"no group {missing[0]} in the ingest queue")
        rq.replace_requests(
            conn,
            group_ids=group_ids,
            run_tag=run_tag,
            overrides=overrides,
            keep_previous=keep_previous,
            now=now,
        )
        finished = [g for g in group_ids if states[g] in FINISHED]
        if finished:
            rq.requeue(
                conn,
                group_ids=finished,
                from_states=FINISHED,
                note=f"queued again by contimg reprocess ({run_tag})",
                now=now,
            )
        report.queued = finished
        report.already_queued = [g for g in group_ids if states[g] not in FINISHED]
    return report


def progress(db: Database, *, run_tag: str) -> dict[str, int]:
    """Groups of a run by queue state (``done`` = requests finished)."""
    with db.read() as conn:
        return rq.run_states(conn, run_tag=run_tag)


# -- the worker's side ------------------------------------------------------------


def prepare(settings: Settings, db: Database, *, group_id: str, workdir: Path) -> Settings:
    """Called by a worker on a claimed group: the settings to process it with (the
    request's overrides, if any), after moving earlier products aside once."""
    with db.read() as conn:
        row = rq.open_request(conn, group_id=group_id)
    if row is None:
        return settings
    overrides = row.overrides
    effective = apply_overrides(settings, overrides)
    if row.started_at is None:
        if row.keep_previous and workdir.is_dir() and any(workdir.iterdir()):
            keep = settings.products_path / "previous" / row.run_tag / group_id
            keep.parent.mkdir(parents=True, exist_ok=True)
            if keep.exists():  # an earlier attempt of the same run moved it already
                shutil.rmtree(workdir)
            else:
                workdir.rename(keep)
            log.info("%s: earlier products kept in %s", group_id, keep)
        with db.write() as conn:
            rq.mark_started(conn, group_id=group_id, now=time.time())
    if overrides:
        log.info("%s: reprocessing run %s with %s", group_id, row.run_tag, overrides)
    return effective


def finish(db: Database, *, group_id: str) -> None:
    """Mark the group's open request done (after the group completed). A failure here
    is logged, never raised: the group's completion is already recorded."""
    try:
        with db.write() as conn:
            rq.mark_done(conn, group_id=group_id, now=time.time())
    except Exception:
        log.exception("%s: could not mark its reprocessing request done", group_id)
