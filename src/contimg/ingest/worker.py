"""Workers: claim a group, hold a lease, run the registered stages, record the outcome.

A worker loops: return groups of dead workers (expired leases) to the queue,
claim the oldest claimable group atomically, run the ``conversion`` stages
(state ``in_progress``), then the ``fresh`` stages (``processing_fresh``), then
mark it ``completed`` with one ``performance_metrics`` row. A heartbeat thread
renews the lease every ``heartbeat_s``; every transition is conditional on the
worker still holding the lease, so a worker that lost it changes nothing.

Failures: an exception in a stage fails the group with a readable message and
``retry_count + 1``; it becomes claimable again after ``backoff_base_s *
2**(retry_count - 1)`` seconds, up to ``max_retries``, then stays failed.
:class:`~contimg.stages.base.StageDeferred` puts the group back to ``pending``
with the reason, not before ``retry_after_s``, without counting a retry.

Shutdown (SIGTERM / SIGINT, see :meth:`Worker.install_signal_handlers`): the stage
being run is interrupted (a tool it runs through :func:`subprocess.run`, WSClean or
DP3, is killed by ``subprocess.run`` itself), the group goes back to ``pending`` at
once without counting an attempt, and the worker exits. Stages are idempotent, so
the next worker redoes the group from the start.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.queries import ingest as iq
from contimg.errors import ContimgError
from contimg.ingest import diskguard, reprocess
from contimg.stages.base import REGISTRY, Phase, StageContext, StageDeferred, StageRegistry

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """The worker's lease on its group expired and was taken over."""


class WorkerInterrupted(BaseException):
    """Raised in the worker's main thread by SIGTERM / SIGINT while a stage runs.

    A BaseException, like KeyboardInterrupt, so that no stage's ``except Exception``
    mistakes a shutdown for a failure of its own.
    """


def make_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def load_stages(settings: Settings, extra_modules: list[str] | None = None) -> StageRegistry:
    """The stages a worker runs: the built-in ones (unless ``worker.builtin_stages`` is
    false) and those of the plug-in modules (``worker.stage_modules`` + ``extra_modules``).

    Without built-ins, the result holds only stages defined in the plug-in modules,
    even if other modules of this process registered theirs in the shared registry.
    """
    modules = [*settings.worker.stage_modules, *(extra_modules or [])]
    if settings.worker.builtin_stages:
        from contimg.stages.builtin import load_builtin_stages  # heavy: only when used

        load_builtin_stages()
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ContimgError(f"cannot import stage module {module!r}: {exc}") from exc
    if settings.worker.builtin_stages:
        return REGISTRY
    only = StageRegistry()
    for order, stage in enumerate(REGISTRY):
        if type(stage).__module__ in modules:
            only.register(stage, order=order)
    return only


@dataclass
class WorkerStats:
    completed: int = 0
    failed: int = 0
    deferred: int = 0
    released: int = 0
    """Groups given back to the queue, unfinished, because the worker was stopped."""
    lost: int = 0
    reaped: int = 0
    groups: list[str] = field(default_factory=list)


class _Heartbeat(threading.Thread):
    """Renews the lease of one group until stopped; flags a lost lease."""

    def __init__(self, worker: Worker, group_id: str) -> None:
        super().__init__(name=f"heartbeat-{group_id}", daemon=True)
        self.worker = worker
        self.group_id = group_id
        self.done = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        cfg = self.worker.settings.worker
        while not self.done.wait(cfg.heartbeat_s):
            try:
                with self.worker.dbs.ingest.write() as conn:
                    held = iq.renew_lease(
                        conn,
                        group_id=self.group_id,
                        worker_id=self.worker.worker_id,
                        now=time.time(),
                        lease_s=cfg.lease_s,
                    )
            except Exception:  # a database hiccup: try again at the next beat
                log.exception("heartbeat for %s failed; retrying", self.group_id)
                continue
            if not held:
                log.error("lost the lease on group %s", self.group_id)
                self.lost.set()
                return


class Worker:
    """One worker process's loop. ``run()`` until stopped, or ``run_one()`` per group."""

    def __init__(
        self,
        settings: Settings,
        *,
        dbs: Databases | None = None,
        worker_id: str | None = None,
        registry: StageRegistry = REGISTRY,
    ) -> None:
        self.settings = settings
        self.dbs = dbs or Databases(settings)
        self.worker_id = worker_id or make_worker_id()
        self.registry = registry
        self.stop = threading.Event()
        self.stats = WorkerStats()
        self._in_stages = False
        """True while stages run in the main thread: a signal then interrupts them."""
        self._handlers_installed = False
        self.paused_reason: str | None = None
        """Why the disk guard holds the worker (None: not paused)."""

    # -- the loop -----------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        """SIGTERM / SIGINT: stop. A group being processed is interrupted and returned to
        the queue (``pending``, no attempt counted); then the loop ends.

        The handler runs in the main thread, between two Python operations: it raises
        :class:`WorkerInterrupted` there while stages run (``subprocess.run`` kills the
        tool it is waiting for and re-raises), and only sets :attr:`stop` otherwise
        (claiming, recording an outcome, idle), so a queue transition is never cut.
        """

        def handler(signum: int, _frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            first = not self.stop.is_set()
            self.stop.set()
            if self._in_stages:
                self._in_stages = False  # raise once; the release must not be cut
                log.warning("%s: interrupting the current group and stopping", name)
                raise WorkerInterrupted(name)
            if first:
                log.warning("%s: stopping", name)

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        self._handlers_installed = True

    def run(self, *, drain: bool = False, max_groups: int | None = None) -> WorkerStats:
        """Process groups until stopped; with ``drain``, exit once nothing is left to do
        (no group claimable now or later, none held by another worker)."""
        cfg = self.settings.worker
        log.info(
            "worker %s: stages %s",
            self.worker_id,
            ", ".join(self.registry.names()) or "(none registered)",
        )
        done = 0
        while not self.stop.is_set():
            if max_groups is not None and done >= max_groups:
                break
            if self.disk_paused():
                self.stop.wait(cfg.poll_interval_s)
                continue
            group_id = self.claim()
            if group_id is None:
                if drain and not self._has_future_work():
                    break
                self.stop.wait(cfg.poll_interval_s)
                continue
            self.process(group_id)
            done += 1
        return self.stats

    def disk_paused(self) -> bool:
        """True while the disk guard holds this worker (logged once per pause)."""
        state = diskguard.check(self.settings)
        if state.paused and self.paused_reason is None:
            log.warning("worker %s: paused, %s", self.worker_id, state.reason)
        elif not state.paused and self.paused_reason is not None:
            log.warning("worker %s: disk space is back; resuming", self.worker_id)
        self.paused_reason = state.reason
        return state.paused

    def _has_future_work(self) -> bool:
        with self.dbs.ingest.read() as conn:
            return iq.has_future_work(conn)

    def claim(self) -> str | None:
        """Return groups of dead workers (expired leases) to the queue, then claim the
        oldest claimable group; one short write transaction."""
        now = time.time()
        cfg = self.settings.worker
        with self.dbs.ingest.write() as conn:
            reaped = iq.reap_expired(conn, now=now, max_retries=cfg.max_retries)
            group_id = iq.claim_next(conn, worker_id=self.worker_id, now=now, lease_s=cfg.lease_s)
        for gid, owner, state in reaped:
            self.stats.reaped += 1
            log.warning("group %s: lease of %s expired; now %s", gid, owner, state)
        return group_id

    def run_one(self) -> str | None:
        """Claim and process one group; returns its id, or None if nothing was claimable."""
        group_id = self.claim()
        if group_id is not None:
            self.process(group_id)
        return group_id

    # -- one group ----------------------------------------------------------------

    def _context(self, group_id: str) -> StageContext:
        with self.dbs.ingest.read() as conn:
            rows = iq.subbands(conn, group_id=group_id)
        workdir = self.settings.products_path / group_id
        # A group queued by 'contimg reprocess': its settings, earlier products kept.
        cfg = reprocess.prepare(self.settings, self.dbs.ingest, group_id=group_id, workdir=workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        return StageContext(
            settings=cfg,
            dbs=self.dbs,
            group_id=group_id,
            subband_paths={int(r.subband_idx): Path(r.file_path) for r in rows},
            workdir=workdir,
            progress=lambda msg: log.info("%s: %s", group_id, msg),
        )

    def _transition(self, group_id: str, fn: Callable[..., bool], **kwargs: object) -> bool:
        with self.dbs.ingest.write() as conn:
            ok = fn(conn, group_id=group_id, worker_id=self.worker_id, now=time.time(), **kwargs)
        if not ok:
            log.error("group %s: no longer held by this worker; its result is dropped", group_id)
            self.stats.lost += 1
        return ok

    def process(self, group_id: str) -> None:
        """Run every registered stage on a claimed group and record the outcome."""
        cfg = self.settings.worker
        start = time.perf_counter()
        beat = _Heartbeat(self, group_id)
        beat.start()
        stage_name = "setup"
        try:
            ctx = self._context(group_id)
            log.info(
                "%s: claimed by %s (%d subbands)", group_id, self.worker_id, len(ctx.subband_paths)
            )
            phases: tuple[tuple[Phase, str | None], ...] = (
                ("conversion", None),
                ("fresh", "processing_fresh"),
            )
            for phase, state in phases:
                if state is not None and not self._transition(group_id, iq.advance, to_state=state):
                    return
                for stage in self.registry.phase(phase):
                    if beat.lost.is_set():
                        raise LeaseLost(group_id)
                    if self.stop.is_set() and self._interruptible():
                        raise WorkerInterrupted("stop requested")
                    stage_name = stage.name
                    log.info("%s: stage %s", group_id, stage.name)
                    self._in_stages = self._interruptible()
                    try:
                        stage.run(ctx)
                    finally:
                        self._in_stages = False
            if beat.lost.is_set():
                raise LeaseLost(group_id)
            total = time.perf_counter() - start
            writer = ctx.artifacts.get("writer_type")
            unknown = sorted(set(ctx.timings_s) - set(iq.STAGE_COLUMNS))
            if unknown:
                log.warning("%s: timings %s have no performance_metrics column", group_id, unknown)
            if self._transition(
                group_id,
                iq.complete,
                timings_s=dict(ctx.timings_s),
                total_time_s=total,
                writer_type=None if writer is None else str(writer),
                note="; ".join(f"note: {n}" for n in ctx.notes) or None,
            ):
                self.stats.completed += 1
                self.stats.groups.append(group_id)
                reprocess.finish(self.dbs.ingest, group_id=group_id)
                log.info("%s: completed in %.1f s", group_id, total)
        except LeaseLost:
            self.stats.lost += 1
            log.error("%s: lease lost; stopped without recording a result", group_id)
        except WorkerInterrupted as exc:
            self._release(
                group_id,
                f"worker {self.worker_id} stopped ({exc}) during stage {stage_name}; "
                "returned to the queue",
            )
        except StageDeferred as exc:
            retry_at = time.time() + max(exc.retry_after_s, 0.0)
            reason = f"deferred by stage {stage_name}: {exc.reason}"
            if self._transition(group_id, iq.defer, reason=reason, retry_at=retry_at):
                self.stats.deferred += 1
                log.info("%s: %s (next try in %.0f s)", group_id, reason, exc.retry_after_s)
        except Exception as exc:
            if self.stop.is_set() and self._interruptible():
                # Stopped while a stage ran: a tool killed by the same signal (Ctrl-C in a
                # terminal reaches the whole process group) is no failure of the group.
                self._release(
                    group_id,
                    f"worker {self.worker_id} stopped during stage {stage_name} "
                    f"({type(exc).__name__}: {exc}); returned to the queue",
                )
                return
            message = f"stage {stage_name} failed: {type(exc).__name__}: {exc}"
            log.error("%s: %s\n%s", group_id, message, traceback.format_exc())
            with self.dbs.ingest.write() as conn:
                moved, retries, next_at = iq.fail(
                    conn,
                    group_id=group_id,
                    worker_id=self.worker_id,
                    now=time.time(),
                    error_message=message,
                    max_retries=cfg.max_retries,
                    backoff_base_s=cfg.backoff_base_s,
                )
            if moved:
                self.stats.failed += 1
                if next_at is None:
                    log.error(
                        "%s: failed %d times; giving up (contimg queue retry %s)",
                        group_id,
                        retries,
                        group_id,
                    )
                else:
                    log.warning(
                        "%s: attempt %d failed; retry in %.0f s",
                        group_id,
                        retries,
                        next_at - time.time(),
                    )
            else:
                self.stats.lost += 1
        finally:
            self._in_stages = False
            beat.done.set()
            beat.join(timeout=5)

    def _interruptible(self) -> bool:
        """Signals interrupt stages only in the thread that installed the handlers."""
        return self._handlers_installed and threading.current_thread() is threading.main_thread()

    def _release(self, group_id: str, reason: str) -> None:
        """Give a held group back to ``pending`` at once, without counting an attempt."""
        if self._transition(group_id, iq.release, reason=reason):
            self.stats.released += 1
            log.warning("%s: %s", group_id, reason)
