"""Grouping and the queue's state machine (everything between a checked file and a worker).

States: ``collecting`` -> ``pending`` -> ``in_progress`` -> ``processing_fresh`` ->
``completed``; ``failed`` from anywhere, with automatic retries (worker) or
``contimg queue retry``.

Grouping rule (order-independent): a file joins the existing group for which
ALL timestamps, its own included, lie within ``group_tolerance_s`` of each
other (if several qualify, the one with the nearest member, then the smallest
id); otherwise it starts a new group. The group's id is the timestamp of its
sb00 file once that is present, else the earliest timestamp of its files; the id
follows these rules while the group is ``collecting`` (or failed by ingest before
any worker took it) and is frozen from then on.
The final id depends only on the set of files, not on their arrival order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Connection

from contimg.config import Settings
from contimg.db.engine import Database
from contimg.db.queries import ingest as iq
from contimg.errors import ConflictError, ContimgError, NotFoundError
from contimg.ingest import hooks
from contimg.ingest.names import SubbandName, format_timestamp, subband_label
from contimg.ingest.uvh5 import CorruptFileError, HeaderFacts, read_header

log = logging.getLogger(__name__)

NOT_STARTED = ("collecting", "pending", "failed")
"""States in which an ingest problem still fails the group (no worker holds it)."""


@dataclass(frozen=True)
class CheckedFile:
    """A stable subband file after its header check: ``facts`` or ``error`` is set."""

    path: str
    name: SubbandName
    size: int
    facts: HeaderFacts | None = None
    error: str | None = None


@dataclass
class IngestReport:
    """What one batch of files did to the queue."""

    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    became_pending: list[str] = field(default_factory=list)
    failed_groups: list[str] = field(default_factory=list)

    def merge(self, other: IngestReport) -> None:
        self.accepted += other.accepted
        self.rejected += other.rejected
        self.became_pending += other.became_pending
        self.failed_groups += other.failed_groups


def check_file(path: str, name: SubbandName, size: int) -> CheckedFile:
    """Run the UVH5 header check on a stable file (outside any transaction)."""
    try:
        facts = read_header(Path(path))
    except CorruptFileError as exc:
        return CheckedFile(path=path, name=name, size=size, error=str(exc))
    return CheckedFile(path=path, name=name, size=size, facts=facts)


def _choose_group(conn: Connection, *, obs_time: float, tolerance_s: float) -> str | None:
    best: tuple[float, str] | None = None
    for group_id, lo, hi in iq.groups_near(conn, obs_time=obs_time, tolerance_s=tolerance_s):
        if max(hi, obs_time) - min(lo, obs_time) > tolerance_s:
            continue
        nearest = 0.0 if lo <= obs_time <= hi else min(abs(obs_time - lo), abs(obs_time - hi))
        if best is None or (nearest, group_id) < best:
            best = (nearest, group_id)
    return None if best is None else best[1]


def canonical_id(conn: Connection, *, group_id: str) -> str:
    """The id the group's files call for: sb00's timestamp, else the earliest timestamp."""
    rows = iq.group_file_rows(conn, group_id=group_id)
    sb00 = [r for r in rows if r.subband_idx == 0 and r.status == "accepted"]
    if sb00:
        return str(sb00[0].file_name)[:19]
    if not rows:
        return group_id
    return format_timestamp(min(float(r.obs_time) for r in rows))


def _settle_id(conn: Connection, *, group_id: str) -> str:
    """Rename a collecting group to its canonical id; returns the id it has now."""
    row = iq.group_row(conn, group_id=group_id)
    assert row is not None
    never_claimed = row.heartbeat_at is None and not row.retry_count
    if not (row.state == "collecting" or (row.state == "failed" and never_claimed)):
        return group_id
    want = canonical_id(conn, group_id=group_id)
    if want == group_id:
        return group_id
    if iq.group_exists(conn, group_id=want):
        log.warning(
            "group %s: canonical id %s is taken by another group; keeping %s",
            group_id,
            want,
            group_id,
        )
        return group_id
    iq.rename_group(conn, old=group_id, new=want)
    log.debug("group %s renamed %s (canonical id)", group_id, want)
    return want


def _maybe_settle(conn: Connection, *, group_id: str, checked: CheckedFile) -> str:
    """The canonical id can only change when this file is sb00 or earlier than the id."""
    name = checked.name
    if (name.subband_idx == 0 and name.timestamp != group_id) or name.timestamp < group_id:
        return _settle_id(conn, group_id=group_id)
    return group_id


def _fail_group(
    conn: Connection, *, group_id: str, message: str, now: float, report: IngestReport
) -> None:
    state = iq.group_state(conn, group_id=group_id)
    if state in NOT_STARTED:
        iq.set_state(
            conn,
            group_id=group_id,
            state="failed",
            now=now,
            error_message=message,
            next_attempt_at=None,
        )
        report.failed_groups.append(group_id)
        log.error("group %s failed: %s", group_id, message)
    else:
        log.error("group %s (%s, left as is): %s", group_id, state, message)


def take_file(
    conn: Connection, *, checked: CheckedFile, settings: Settings, now: float
) -> IngestReport:
    """Put one checked file into its group (inside the caller's write transaction).

    Idempotent: a file already accepted or rejected is left alone. A corrupt file
    fails its group naming the file; a second, different file for a subband the
    group already has fails the group naming both files. Other groups are untouched.
    """
    report = IngestReport()
    status = iq.file_status(conn, path=checked.path)
    if status in ("accepted", "rejected"):
        return report
    if status is None:  # taken without a prior size check (e.g. a direct call)
        iq.observe_file(
            conn,
            path=checked.path,
            name=Path(checked.path).name,
            subband_idx=checked.name.subband_idx,
            obs_time=checked.name.obs_time,
            size=checked.size,
            now=now,
        )
    ing = settings.ingest
    group_id = _choose_group(
        conn, obs_time=checked.name.obs_time, tolerance_s=ing.group_tolerance_s
    )
    if group_id is None:
        group_id = checked.name.timestamp
        if iq.group_exists(conn, group_id=group_id):  # pragma: no cover - impossible by the rule
            raise ContimgError(f"group {group_id} exists but does not accept {checked.path}")
        iq.create_group(conn, group_id=group_id, expected_subbands=ing.expected_subbands, now=now)
    sb = subband_label(checked.name.subband_idx)
    present = iq.subband_entry(conn, group_id=group_id, subband_idx=checked.name.subband_idx)
    facts = checked.facts
    if present is not None and present != checked.path:
        reason = f"a second, different file for {sb} of group {group_id} (already have {present})"
        iq.set_file_outcome(
            conn,
            path=checked.path,
            status="rejected",
            group_id=group_id,
            reason=reason,
            size=checked.size,
            now=now,
        )
        report.rejected.append(checked.path)
        _fail_group(
            conn,
            group_id=group_id,
            message=f"conflicting files for {sb}: {present} and {checked.path}",
            now=now,
            report=report,
        )
        return report
    if checked.error is not None or facts is None:
        reason = checked.error or "header check not run"
        iq.set_file_outcome(
            conn,
            path=checked.path,
            status="rejected",
            group_id=group_id,
            reason=reason,
            size=checked.size,
            now=now,
        )
        report.rejected.append(checked.path)
        group_id = _maybe_settle(conn, group_id=group_id, checked=checked)
        _fail_group(
            conn,
            group_id=group_id,
            message=f"corrupt subband file {checked.path}: {reason}",
            now=now,
            report=report,
        )
        return report
    if present is None:
        iq.add_subband(
            conn,
            group_id=group_id,
            subband_idx=checked.name.subband_idx,
            path=checked.path,
            size=checked.size,
            now=now,
        )
    iq.set_file_outcome(
        conn,
        path=checked.path,
        status="accepted",
        group_id=group_id,
        size=checked.size,
        dec_deg=facts.dec_deg,
        start_jd=facts.start_jd,
        end_jd=facts.end_jd,
        now=now,
    )
    report.accepted.append(checked.path)
    group_id = _maybe_settle(conn, group_id=group_id, checked=checked)
    row = iq.group_row(conn, group_id=group_id)
    assert row is not None
    expected = int(row.expected_subbands or ing.expected_subbands)
    if row.state == "collecting" and iq.subband_count(conn, group_id=group_id) >= expected:
        iq.set_state(conn, group_id=group_id, state="pending", now=now, from_states=["collecting"])
        report.became_pending.append(group_id)
    return report


def missing_subbands(conn: Connection, *, group_id: str, expected: int) -> list[int]:
    have = {int(r.subband_idx) for r in iq.subbands(conn, group_id=group_id)}
    return [i for i in range(expected) if i not in have]


def resolve_stale(db: Database, *, settings: Settings, now: float) -> IngestReport:
    """Apply the incomplete-group policy to groups collecting for longer than the timeout."""
    ing = settings.ingest
    report = IngestReport()
    with db.write() as conn:
        for group_id in iq.stale_collecting(conn, received_before=now - ing.collect_timeout_s):
            row = iq.group_row(conn, group_id=group_id)
            assert row is not None
            expected = int(row.expected_subbands or ing.expected_subbands)
            missing = missing_subbands(conn, group_id=group_id, expected=expected)
            have = expected - len(missing)
            names = ", ".join(subband_label(i) for i in missing)
            waited = (
                f"still incomplete after {ing.collect_timeout_s:g} s "
                f"({have} of {expected} subbands)"
            )
            if ing.incomplete_policy == "proceed" and have > 0:
                msg = f"{waited}; proceeding without {names}"
                iq.set_state(
                    conn,
                    group_id=group_id,
                    state="pending",
                    now=now,
                    error_message=msg,
                    from_states=["collecting"],
                )
                report.became_pending.append(group_id)
                log.warning("group %s: %s", group_id, msg)
            else:
                msg = f"{waited}; missing {names}"
                iq.set_state(
                    conn,
                    group_id=group_id,
                    state="failed",
                    now=now,
                    error_message=msg,
                    from_states=["collecting"],
                    next_attempt_at=None,
                )
                report.failed_groups.append(group_id)
                log.error("group %s failed: %s", group_id, msg)
    return report


def pending_group(conn: Connection, *, group_id: str) -> hooks.PendingGroup:
    rows = [r for r in iq.group_file_rows(conn, group_id=group_id) if r.status == "accepted"]
    starts = [float(r.start_jd) for r in rows if r.start_jd is not None]
    ends = [float(r.end_jd) for r in rows if r.end_jd is not None]
    decs = [float(r.dec_deg) for r in rows if r.dec_deg is not None]
    return hooks.PendingGroup(
        group_id=group_id,
        subband_paths={
            int(r.subband_idx): Path(r.file_path) for r in iq.subbands(conn, group_id=group_id)
        },
        start_jd=min(starts) if starts else None,
        end_jd=max(ends) if ends else None,
        dec_deg=sum(decs) / len(decs) if decs else None,
    )


def notify_pending(db: Database, group_ids: Sequence[str]) -> None:
    """Call the calibrator matcher for groups that became pending (outside the ingest lock)."""
    if hooks.get_calibrator_matcher() is None:
        return
    for group_id in group_ids:
        with db.read() as conn:
            group = pending_group(conn, group_id=group_id)
        records = hooks.match(group)
        if records is None:
            continue
        with db.write() as conn:
            iq.set_calibrators(conn, group_id=group_id, calibrators=records)
        if records:
            names = ", ".join(str(r["name"]) for r in records)
            log.info("group %s: calibrator transit %s", group_id, names)


@dataclass(frozen=True)
class RetryOutcome:
    """What :func:`retry_group` did to a failed group."""

    group_id: str
    state: str
    retry_count: int
    subbands: int
    expected_subbands: int
    recovered: int
    """Previously rejected files of the group that are now readable and were taken."""

    @property
    def summary(self) -> str:
        """One line for the CLI."""
        extra = (
            f"; {self.recovered} previously rejected file(s) now readable" if self.recovered else ""
        )
        return (
            f"{self.group_id}: failed -> pending with {self.subbands} of "
            f"{self.expected_subbands} subbands{extra}"
        )


def retry_group(db: Database, *, group_id: str, now: float) -> RetryOutcome:
    """Put a failed group back to pending; the one retry of the CLI and the API.

    Rejected (corrupt) files of the group are checked again first, so a file
    that was replaced with a good copy is taken. The group then goes on with the
    subbands it has (a retry is the operator's decision to proceed).
    """
    with db.read() as conn:
        row = iq.group_row(conn, group_id=group_id)
        if row is None:
            raise NotFoundError(f"no group {group_id!r} in the queue")
        if row.state != "failed":
            raise ConflictError(
                f"group {group_id} is {row.state}, not failed; only failed groups can be retried"
            )
        rejected = iq.rejected_files(conn, group_id=group_id)
    recovered = 0
    for rec in rejected:
        path = Path(rec.file_path)
        if rec.reason and str(rec.reason).startswith("a second, different file"):
            continue
        try:
            facts = read_header(path)
            size = path.stat().st_size
        except (CorruptFileError, OSError):
            continue
        with db.write() as conn:
            if iq.subband_entry(conn, group_id=group_id, subband_idx=int(rec.subband_idx)) is None:
                iq.add_subband(
                    conn,
                    group_id=group_id,
                    subband_idx=int(rec.subband_idx),
                    path=str(path),
                    size=size,
                    now=now,
                )
                iq.set_file_outcome(
                    conn,
                    path=str(path),
                    status="accepted",
                    group_id=group_id,
                    size=size,
                    dec_deg=facts.dec_deg,
                    start_jd=facts.start_jd,
                    end_jd=facts.end_jd,
                    now=now,
                )
                recovered += 1
    with db.write() as conn:
        if not iq.reset_for_retry(conn, group_id=group_id, now=now):
            raise ConflictError(f"group {group_id} changed state meanwhile; not retried")
        n = iq.subband_count(conn, group_id=group_id)
        after = iq.group_row(conn, group_id=group_id)
    assert after is not None
    return RetryOutcome(
        group_id=group_id,
        state=str(after.state),
        retry_count=int(after.retry_count or 0),
        subbands=n,
        expected_subbands=int(row.expected_subbands or 16),
        recovered=recovered,
    )
