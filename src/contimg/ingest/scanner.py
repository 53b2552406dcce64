"""Finding subband files: size-stability checks, header checks, directory scans, watching.

A correctly named file is *taken* (put into a group) only when its size was the
same at ``stable_checks`` consecutive checks at least ``settle_s`` apart AND it
opens as HDF5 with a UVH5 header. Other files are recorded in ``ingest_ignored``
and logged once each. Every step is recorded in the ingest database, so a
restarted watcher carries on where the last one stopped.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from contimg.config import Settings
from contimg.db.engine import Database
from contimg.db.queries import ingest as iq
from contimg.ingest import queue
from contimg.ingest.names import SubbandName, classify

log = logging.getLogger(__name__)

WRITE_BATCH = 256
"""Files per write transaction (keeps SQLite's write lock short)."""


@dataclass
class ScanReport:
    """What one pass did."""

    seen: int = 0
    ignored_new: int = 0
    waiting: int = 0
    vanished: int = 0
    ingest: queue.IngestReport = field(default_factory=queue.IngestReport)

    def merge(self, other: ScanReport) -> None:
        self.seen += other.seen
        self.ignored_new += other.ignored_new
        self.waiting = other.waiting
        self.vanished += other.vanished
        self.ingest.merge(other.ingest)

    def summary(self) -> str:
        r = self.ingest
        return (
            f"{self.seen} files checked: {len(r.accepted)} taken, {len(r.rejected)} rejected, "
            f"{self.waiting} waiting for a stable size, {self.ignored_new} newly ignored; "
            f"{len(r.became_pending)} groups now pending, {len(r.failed_groups)} failed"
        )


class Scanner:
    """Checks files of the incoming directory and feeds the queue."""

    def __init__(
        self, db: Database, settings: Settings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    # -- one batch of paths -------------------------------------------------------

    def observe(self, paths: Iterable[Path | str]) -> ScanReport:
        """Check ``paths`` once: log ignored names, record sizes, take stable files."""
        report = ScanReport()
        candidates: list[tuple[str, SubbandName]] = []
        ignored: list[tuple[str, str]] = []
        for p in paths:
            path = os.path.abspath(p)
            parsed = classify(os.path.basename(path))
            if isinstance(parsed, str):
                ignored.append((path, parsed))
            else:
                candidates.append((path, parsed))
        report.seen = len(candidates)
        self._log_ignored(ignored, report)
        if not candidates:
            return report
        with self.db.read() as conn:
            known = iq.file_rows(conn, paths=[p for p, _ in candidates])
        ing = self.settings.ingest
        stable: list[tuple[str, SubbandName, int]] = []
        for start in range(0, len(candidates), WRITE_BATCH):
            batch = [
                (p, n)
                for p, n in candidates[start : start + WRITE_BATCH]
                if p not in known or known[p].status == "waiting"  # taken files need nothing
            ]
            fresh: list[dict[str, object]] = []
            checks: list[dict[str, object]] = []
            gone: list[str] = []
            now = self.clock()
            for path, name in batch:
                try:
                    size = os.stat(path).st_size
                except FileNotFoundError:
                    gone.append(path)
                    continue
                row = known.get(path)
                if row is None:
                    count = 1
                    fresh.append(
                        {
                            "file_path": path,
                            "file_name": os.path.basename(path),
                            "subband_idx": name.subband_idx,
                            "obs_time": name.obs_time,
                            "file_size": size,
                        }
                    )
                elif row.file_size == size and now - row.last_checked_at < ing.settle_s:
                    count = row.stable_count  # too soon to count as another check
                else:
                    count = row.stable_count + 1 if row.file_size == size else 1
                    checks.append({"path": path, "size": size, "count": count})
                if count >= ing.stable_checks:
                    stable.append((path, name, size))
                else:
                    report.waiting += 1
            if not (fresh or checks or gone):
                continue
            with self.db.write() as conn:
                iq.insert_waiting(conn, rows=fresh, now=now)
                iq.update_checks(conn, rows=checks, now=now)
                for path in gone:
                    iq.forget_waiting(conn, path=path)
                    report.vanished += 1
        self._take(stable, report)
        return report

    def _log_ignored(self, ignored: list[tuple[str, str]], report: ScanReport) -> None:
        if not ignored:
            return
        with self.db.read() as conn:
            known = iq.known_ignored(conn, paths=[p for p, _ in ignored])
        fresh = [(p, why) for p, why in ignored if p not in known and not os.path.isdir(p)]
        if not fresh:
            return
        now = self.clock()
        with self.db.write() as conn:
            for path, why in fresh:
                if iq.log_ignored(conn, path=path, reason=why, now=now):
                    report.ignored_new += 1
                    log.info("ignoring %s: %s", path, why)

    def _take(self, stable: list[tuple[str, SubbandName, int]], report: ScanReport) -> None:
        for start in range(0, len(stable), WRITE_BATCH):
            # Header checks read the files: done before the write transaction.
            checked = [queue.check_file(p, n, s) for p, n, s in stable[start : start + WRITE_BATCH]]
            now = self.clock()
            batch = queue.IngestReport()
            with self.db.write() as conn:
                for item in checked:
                    batch.merge(
                        queue.take_file(conn, checked=item, settings=self.settings, now=now)
                    )
            for path in batch.rejected:
                log.error("rejected %s (see 'contimg queue show')", path)
            for group_id in batch.became_pending:
                log.info("group %s complete: pending", group_id)
            queue.notify_pending(self.db, batch.became_pending)
            report.ingest.merge(batch)
            if len(stable) > WRITE_BATCH:
                done = min(start + WRITE_BATCH, len(stable))
                log.info("taken %d of %d stable files", done, len(stable))

    # -- passes -------------------------------------------------------------------

    def list_directory(self, directory: Path) -> list[str]:
        """Regular files directly in ``directory`` (no recursion), sorted by name."""
        try:
            with os.scandir(directory) as it:
                return sorted(e.path for e in it if e.is_file(follow_symlinks=True))
        except FileNotFoundError:
            from contimg.errors import ContimgError

            raise ContimgError(f"incoming directory {directory} does not exist") from None

    def scan_directory(self, directory: Path) -> ScanReport:
        """Check every file of ``directory`` once, and re-check waiting files."""
        return self.observe(self.list_directory(directory))

    def recheck_waiting(self) -> ScanReport:
        """Check again the files still waiting for a stable size."""
        with self.db.read() as conn:
            paths = iq.waiting_paths(conn)
        return self.observe(paths) if paths else ScanReport()

    def housekeeping(self) -> queue.IngestReport:
        """Resolve groups collecting past the timeout (fail or proceed, by setting)."""
        report = queue.resolve_stale(self.db, settings=self.settings, now=self.clock())
        queue.notify_pending(self.db, report.became_pending)
        return report


def scan_once(
    db: Database,
    settings: Settings,
    directory: Path,
    *,
    finalize: bool = False,
    progress: Callable[[str], None] = log.info,
) -> ScanReport:
    """One backfill pass over ``directory``: size checks ``stable_checks`` times, ``settle_s``
    apart, then take stable files. With ``finalize``, groups still incomplete at the end
    are resolved by the incomplete-group policy at once instead of after the timeout."""
    scanner = Scanner(db, settings)
    total = ScanReport()
    checks = settings.ingest.stable_checks
    for i in range(checks):
        if i:
            time.sleep(settings.ingest.settle_s)
        paths = scanner.list_directory(directory) if i == 0 else _waiting_in(db)
        progress(f"check {i + 1}/{checks}: {len(paths)} files")
        total.merge(scanner.observe(paths))
    stale = scanner.housekeeping()
    total.ingest.merge(stale)
    if finalize:
        with db.read() as conn:
            collecting = [g.group_id for g in iq.list_groups(conn, state="collecting", limit=10**9)]
        if collecting:
            forced = settings.model_copy(
                update={"ingest": settings.ingest.model_copy(update={"collect_timeout_s": 1e-9})}
            )
            report = queue.resolve_stale(db, settings=forced, now=time.time() + 1.0)
            queue.notify_pending(db, report.became_pending)
            total.ingest.merge(report)
    return total


def _waiting_in(db: Database) -> list[str]:
    with db.read() as conn:
        return iq.waiting_paths(conn)


def watch(
    db: Database,
    settings: Settings,
    directory: Path,
    *,
    stop: threading.Event | None = None,
) -> None:
    """Watch ``directory`` until ``stop`` is set: inotify events (watchfiles), a re-check
    of waiting files every ``settle_s``, a full rescan every ``rescan_interval_s`` (catches
    events lost on network file systems), and the incomplete-group timeout."""
    import watchfiles
    from sqlalchemy.exc import OperationalError

    stop = stop or threading.Event()
    ing = settings.ingest
    scanner = Scanner(db, settings)
    report = scanner.scan_directory(directory)
    log.info("initial scan of %s: %s", directory, report.summary())
    last_rescan = time.monotonic()
    tick_ms = max(int(ing.settle_s * 1000), 50)
    for changes in watchfiles.watch(
        directory,
        stop_event=stop,
        recursive=False,
        rust_timeout=tick_ms,
        yield_on_timeout=True,
        debounce=min(tick_ms, 1600),
        raise_interrupt=False,
    ):
        try:
            paths = {p for change, p in changes if change != watchfiles.Change.deleted}
            if paths:
                r = scanner.observe(paths)
                if r.ingest.accepted or r.ingest.rejected:
                    log.info("events: %s", r.summary())
            r = scanner.recheck_waiting()
            if r.ingest.accepted or r.ingest.rejected or r.vanished:
                log.info("re-check: %s", r.summary())
            if time.monotonic() - last_rescan >= ing.rescan_interval_s:
                r = scanner.scan_directory(directory)
                last_rescan = time.monotonic()
                busy = r.ingest.accepted or r.ingest.rejected or r.ignored_new
                log.log(logging.INFO if busy else logging.DEBUG, "rescan: %s", r.summary())
            scanner.housekeeping()
        except OperationalError as exc:  # database briefly unavailable: keep watching
            log.error("database error, retrying at the next tick: %s", exc)
        if stop.is_set():
            break
