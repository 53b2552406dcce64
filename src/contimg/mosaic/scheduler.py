"""Automatic mosaics: build each window once all its images exist.

Windows follow the drift-scan sky, not the clock: they are ``settings.mosaic.window_s``
long in local sidereal time (LST, at DSA-110's longitude), start at
``lst_origin_h`` and restart every sidereal day. The same strip of sky passes at the
same LST every day, ~3 min 56 s earlier in UTC, so its groups fall in the same
window of each sidereal day. Inside a window, images whose pointing declinations
differ by more than ``dec_tolerance_deg`` make separate mosaics.

A window is built when

1. it is *closed*: a group ending at (or within a quarter group of) its end is
   known (products ``ms_index`` or the ingest queue): every group whose mid-time is
   in the window has then arrived; or no group has arrived for ``idle_close_s``
   (the data stopped);
2. every group of the window in the ingest queue is finished ('completed', or
   'failed' with no retry scheduled);
3. this scheduler wins the window's claim in ``mosaic_windows`` (a primary key,
   so two schedulers never build the same window). A build renews its claim every
   ``lease_s / 4``; a claim not renewed for ``lease_s``, or held by a scheduler of
   this host whose process is gone, is retaken; a build interrupted by SIGTERM /
   SIGINT gives its window back ('pending', the attempt not counted); a failed build
   is retried up to ``max_attempts`` times.

The mosaic row and the window's 'done' state are written in one transaction, so
a window is never built twice. Late images of a window already built are not
added automatically (rebuild by hand with ``contimg mosaic build --replace``).
"""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy.engine import Connection

from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.queries import mosaics as q
from contimg.errors import ContimgError
from contimg.mosaic.builder import SECONDS_PER_DAY, build_mosaic, mjd_to_iso
from contimg.science.mosaic import SIDEREAL_DEG_PER_DAY
from contimg.telescope import DSA110

log = logging.getLogger(__name__)

SIDEREAL_DAY_S = 86_400.0
"""A sidereal day in sidereal seconds (LST runs 24 h a sidereal day)."""
_J2000_MJD = 51_544.5
_GMST_J2000_DEG = 280.46061837


def sidereal_s(mjd: float) -> float:
    """Mean local sidereal time at the site at UTC ``mjd``, in sidereal seconds counted
    continuously (not wrapped at 24 h): the linear mean-sidereal-time formula, within
    ~1 s of astropy's apparent LST."""
    deg = _GMST_J2000_DEG + DSA110.site.lon_deg + SIDEREAL_DEG_PER_DAY * (mjd - _J2000_MJD)
    return deg * 240.0


def mjd_of_sidereal_s(value: float) -> float:
    """Inverse of :func:`sidereal_s`."""
    return _J2000_MJD + (value / 240.0 - _GMST_J2000_DEG - DSA110.site.lon_deg) / (
        SIDEREAL_DEG_PER_DAY
    )


def lst_hours(mjd: float) -> float:
    """Mean LST at the site (hours, 0-24) at UTC ``mjd``."""
    return (sidereal_s(mjd) / 3600.0) % 24.0


def sidereal_length_s(utc_s: float) -> float:
    """LST elapsed during ``utc_s`` seconds of UTC (sidereal seconds)."""
    return utc_s * SIDEREAL_DEG_PER_DAY / 360.0


@dataclass(frozen=True)
class Window:
    """One automatic mosaic: an LST window of one sidereal day and a pointing-Dec band."""

    key: str
    start_mjd: float
    end_mjd: float
    dec_min_deg: float
    dec_max_deg: float
    dec_centre_deg: float
    n_images: int
    lst_start_h: float = 0.0
    length_s: float = 3600.0
    """Length in sidereal seconds (shorter for the last window of a sidereal day when
    ``window_s`` does not divide 24 h)."""
    mid_mjds: tuple[float, ...] = field(default=(), compare=False, repr=False)

    @property
    def name(self) -> str:
        h, rem = divmod(round(self.lst_start_h * 3600.0) % 86_400, 3600)
        return (
            f"{mjd_to_iso(self.start_mjd)}_LST{h:02d}{rem // 60:02d}_{_length(self.length_s)}"
            f"_dec{self.dec_centre_deg:+.1f}"
        )


def _length(seconds: float) -> str:
    if abs(seconds / 3600.0 - round(seconds / 3600.0)) < 1e-9:
        return f"{seconds / 3600.0:g}h"
    return f"{seconds / 60.0:.4g}m"


def _lst_label(lst_h: float) -> str:
    total = round(lst_h * 3600.0) % 86_400
    h, rem = divmod(total, 3600)
    m, sec = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{sec:02d}"


@dataclass
class PassReport:
    """What one scheduler pass did."""

    built: list[tuple[str, str]] = field(default_factory=list)
    """(window key, mosaic path)"""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(window key, error)"""
    waiting: list[tuple[str, str]] = field(default_factory=list)
    """(window key, why it waits)"""
    interrupted: list[str] = field(default_factory=list)
    """window keys whose build a shutdown interrupted (released, built again later)"""


def window_of(mjd: float, *, window_s: float, lst_origin_h: float = 0.0) -> tuple[float, float]:
    """``(start_mjd, end_mjd)`` of the LST window holding UTC ``mjd``.

    Sidereal day ``n`` starts when the LST is ``lst_origin_h``; its windows are
    ``window_s`` sidereal seconds long from there, the last one cut at the day's end.
    """
    origin = lst_origin_h * 3600.0
    s = sidereal_s(mjd) - origin
    day = math.floor(s / SIDEREAL_DAY_S + 1e-9)  # a boundary's own instant is in (86 us)
    u = max(0.0, s - day * SIDEREAL_DAY_S)
    k = math.floor(u / window_s + 1e-9)
    s0 = day * SIDEREAL_DAY_S + k * window_s
    s1 = min(s0 + window_s, (day + 1) * SIDEREAL_DAY_S)
    return mjd_of_sidereal_s(s0 + origin), mjd_of_sidereal_s(s1 + origin)


def plan_windows(
    epochs: Sequence[tuple[float, float]],
    *,
    window_s: float,
    dec_tolerance_deg: float,
    lst_origin_h: float = 0.0,
) -> list[Window]:
    """Windows holding the given image epochs ``(mid_mjd, pointing Dec)``, oldest first.

    Each epoch goes to the LST window of :func:`window_of`. A window's images' Decs
    are split into bands wherever sorted neighbours differ by more than
    ``dec_tolerance_deg``; each band is one window, keyed
    ``<start ISO>/LST<hh:mm:ss>+<window_s>s/dec<centre, 0.1 deg>``.
    """
    by_span: dict[tuple[float, float], list[tuple[float, float]]] = {}
    for mid_mjd, dec in epochs:
        span = window_of(mid_mjd, window_s=window_s, lst_origin_h=lst_origin_h)
        by_span.setdefault((round(span[0], 9), round(span[1], 9)), []).append((dec, mid_mjd))
    windows: list[Window] = []
    for start, end in sorted(by_span):
        items = sorted(by_span[(start, end)])
        bands: list[list[tuple[float, float]]] = [[items[0]]]
        for item in items[1:]:
            if item[0] - bands[-1][-1][0] > dec_tolerance_deg:
                bands.append([item])
            else:
                bands[-1].append(item)
        lst_start = lst_hours(start)
        length = round(sidereal_length_s((end - start) * SECONDS_PER_DAY), 3)
        for band in bands:
            lo, hi = band[0][0], band[-1][0]
            centre = 0.5 * (lo + hi)
            windows.append(
                Window(
                    key=f"{mjd_to_iso(start)}/LST{_lst_label(lst_start)}+{window_s:g}s"
                    f"/dec{centre:+.1f}",
                    start_mjd=start,
                    end_mjd=end,
                    dec_min_deg=lo - dec_tolerance_deg / 2,
                    dec_max_deg=hi + dec_tolerance_deg / 2,
                    dec_centre_deg=centre,
                    n_images=len(band),
                    lst_start_h=lst_start,
                    length_s=length,
                    mid_mjds=tuple(sorted(m for _, m in band)),
                )
            )
    return windows


class MosaicInterrupted(BaseException):
    """Raised in the scheduler's main thread by SIGTERM / SIGINT while a build runs.

    A BaseException, like KeyboardInterrupt, so that the builder's ``except
    Exception`` does not take a shutdown for a failed build.
    """


class StopGuard:
    """SIGTERM / SIGINT handling of a scheduler process: stop, abandoning a build in
    progress (its window is released to 'pending' and built again at the next start).

    The handler runs in the main thread between two Python operations: while a build
    runs it raises :class:`MosaicInterrupted` there (once); otherwise (claiming,
    recording an outcome, waiting for the next pass) it only sets :attr:`stop`, so a
    window's state transition is never cut.
    """

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.building = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Become the process's SIGTERM / SIGINT handler (main thread only)."""
        self._previous = {
            sig: signal.signal(sig, self._handler) for sig in (signal.SIGTERM, signal.SIGINT)
        }

    def uninstall(self) -> None:
        """Restore the handlers :meth:`install` replaced."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _handler(self, signum: int, _frame: FrameType | None) -> None:
        self.stop.set()
        if self.building:
            self.building = False  # raise once: the release must not be cut
            raise MosaicInterrupted(signal.Signals(signum).name)


def holder_is_dead(holder: str | None) -> bool:
    """True when a claim's holder is a scheduler of this host (id ``host:pid``, the
    default) whose process no longer runs. Other ids are judged by their lease only."""
    if not holder:
        return True
    host, _, pid_text = holder.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # this process is between builds: the claim is a previous life's
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return state in ("Z", "X")  # a killed process not reaped yet


def _iso_to_mjd(iso: str) -> float:
    from astropy.time import Time

    return float(Time(iso, format="isot", scale="utc").mjd)


def run_once(
    settings: Settings,
    dbs: Databases,
    *,
    scheduler_id: str,
    now: float | None = None,
    progress: Callable[[str], None] | None = None,
    guard: StopGuard | None = None,
) -> PassReport:
    """One pass: build every window that is ready and not built yet.

    With a ``guard``, no new build starts once it asks to stop, and a signal during a
    build releases the window and raises :class:`MosaicInterrupted`.
    """
    say = progress or (lambda msg: log.info("%s", msg))
    cfg = settings.mosaic
    now = time.time() if now is None else now
    report = PassReport()
    group_d = DSA110.group_duration_s / SECONDS_PER_DAY
    window_d = cfg.window_s / SECONDS_PER_DAY

    _remove_stale_temporaries(settings, now=now)
    with dbs.products.read() as conn:
        latest_mjd = q.latest_observation_end_mjd(conn)
        if latest_mjd is None:
            return report
        since = latest_mjd - cfg.lookback_days
        epochs = q.pbcor_image_epochs(conn, since_mjd=since)
        known = q.window_states(conn, since_mjd=since - window_d)
    with dbs.ingest.read() as conn:
        latest_gid, latest_received = q.latest_group(conn)
    if latest_gid is not None:
        latest_mjd = max(latest_mjd, _iso_to_mjd(latest_gid) + group_d)
    idle = latest_received is None or now - latest_received >= cfg.idle_close_s
    done = [r for r in known.values() if r.state == "done"]

    for window in plan_windows(
        epochs,
        window_s=cfg.window_s,
        dec_tolerance_deg=cfg.dec_tolerance_deg,
        lst_origin_h=cfg.lst_origin_h,
    ):
        if guard is not None and guard.stop.is_set():
            break
        row = known.get(window.key)
        if row is not None and not _retakable(row, now=now, settings=settings):
            continue
        if row is None and _already_mosaicked(window, done):
            continue
        # Closed once a group ending at the window's end is known: a later group's
        # mid-time is then past the end (a quarter group absorbs rounding).
        if latest_mjd < window.end_mjd - 0.25 * group_d and not idle:
            report.waiting.append((window.key, "window still open"))
            continue
        with dbs.ingest.read() as conn:
            unfinished = q.unfinished_groups(
                conn,
                first_group_id=mjd_to_iso(window.start_mjd - 0.5 * group_d),
                end_group_id=mjd_to_iso(window.end_mjd - 0.5 * group_d),
            )
        if unfinished:
            report.waiting.append(
                (window.key, f"{len(unfinished)} group(s) still processing, e.g. {unfinished[0]}")
            )
            continue
        # The claim's time is the real one: earlier builds of this pass took time.
        claim_at = max(now, time.time())
        if not _claim(dbs, window, row, scheduler_id=scheduler_id, now=claim_at, settings=settings):
            continue
        _build(
            settings, dbs, window, scheduler_id=scheduler_id, report=report, say=say, guard=guard
        )
    return report


def _already_mosaicked(window: Window, done: Sequence[q.WindowRow]) -> bool:
    """True when every image of ``window`` lies in a window built already under another
    key (windows of the former UTC-aligned scheme, say): not built twice."""
    if not window.mid_mjds or not done:
        return False
    return all(
        any(
            r.start_mjd <= mid < r.end_mjd
            and r.dec_min_deg <= window.dec_centre_deg <= r.dec_max_deg
            for r in done
        )
        for mid in window.mid_mjds
    )


def _remove_stale_temporaries(settings: Settings, *, now: float) -> None:
    """Delete temporary files of builds killed mid-write (not touched for a lease)."""
    root = settings.products_path / "mosaics"
    if not root.is_dir():
        return
    for tmp in root.glob(".*.tmp-*"):
        try:
            if tmp.stat().st_mtime < now - settings.mosaic.lease_s:
                tmp.unlink()
                log.info("removed %s, left by an interrupted mosaic build", tmp)
        except FileNotFoundError:
            continue


def _retakable(row: q.WindowRow, *, now: float, settings: Settings) -> bool:
    cfg = settings.mosaic
    if row.attempts >= cfg.max_attempts and row.state != "pending":
        return False
    if row.state in ("failed", "pending"):
        return True
    return bool(
        row.state == "building"
        and ((row.claimed_at or 0.0) < now - cfg.lease_s or holder_is_dead(row.claimed_by))
    )


def _claim(
    dbs: Databases,
    window: Window,
    row: q.WindowRow | None,
    *,
    scheduler_id: str,
    now: float,
    settings: Settings,
) -> bool:
    with dbs.products.write() as conn:
        if row is None:
            return q.claim_window(
                conn,
                window_key=window.key,
                start_mjd=window.start_mjd,
                end_mjd=window.end_mjd,
                dec_min_deg=window.dec_min_deg,
                dec_max_deg=window.dec_max_deg,
                claimed_by=scheduler_id,
                now=now,
            )
        holder = row.claimed_by
        dead = [holder] if row.state == "building" and holder and holder_is_dead(holder) else []
        if dead:
            log.warning("window %s: its builder %s is gone; building it again", window.key, holder)
        return q.reclaim_window(
            conn,
            window_key=window.key,
            claimed_by=scheduler_id,
            now=now,
            stale_before=now - settings.mosaic.lease_s,
            max_attempts=settings.mosaic.max_attempts,
            dead_holders=dead,
        )


class _Heartbeat:
    """Renews a build's claim every ``lease_s / 4`` from a thread of its own."""

    def __init__(self, dbs: Databases, key: str, holder: str, every_s: float) -> None:
        self._dbs, self._key, self._holder, self._every_s = dbs, key, holder, every_s
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease {key}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._done.wait(self._every_s):
            try:
                with self._dbs.products.write() as conn:
                    held = q.renew_claim(
                        conn, window_key=self._key, claimed_by=self._holder, now=time.time()
                    )
            except Exception:  # a database hiccup: try again at the next beat
                log.exception("could not renew the claim of window %s", self._key)
                continue
            if not held:
                log.warning("window %s is no longer held by %s", self._key, self._holder)
                return


def _build(
    settings: Settings,
    dbs: Databases,
    window: Window,
    *,
    scheduler_id: str,
    report: PassReport,
    say: Callable[[str], None],
    guard: StopGuard | None = None,
) -> None:
    say(f"building window {window.key} ({window.n_images} images)")

    def mark_done(conn: Connection, row: dict[str, Any]) -> None:
        if not q.finish_window(
            conn,
            window_key=window.key,
            claimed_by=scheduler_id,
            state="done",
            now=time.time(),
            mosaic_path=str(row["path"]),
        ):
            raise ContimgError(
                f"window {window.key} was taken over by another scheduler during the build"
            )

    with _Heartbeat(dbs, window.key, scheduler_id, settings.mosaic.lease_s / 4.0):
        try:
            try:
                if guard is not None:
                    guard.building = True
                result = build_mosaic(
                    settings,
                    dbs,
                    start_mjd=window.start_mjd,
                    end_mjd=window.end_mjd,
                    dec_min_deg=window.dec_min_deg,
                    dec_max_deg=window.dec_max_deg,
                    name=window.name,
                    replace=True,
                    progress=say,
                    on_saved=mark_done,
                )
            finally:
                if guard is not None:
                    guard.building = False
        except MosaicInterrupted as exc:
            with dbs.products.write() as conn:
                q.release_window(
                    conn,
                    window_key=window.key,
                    claimed_by=scheduler_id,
                    now=time.time(),
                    reason=f"build interrupted by {exc} (not counted); built again next pass",
                )
            report.interrupted.append(window.key)
            say(f"window {window.key}: build interrupted by {exc}; released to 'pending'")
            raise
        except Exception as exc:  # recorded on the window, visible in `mosaic windows`
            message = str(exc) if isinstance(exc, ContimgError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, ContimgError):
                log.exception("mosaic window %s failed", window.key)
            with dbs.products.write() as conn:
                q.finish_window(
                    conn,
                    window_key=window.key,
                    claimed_by=scheduler_id,
                    state="failed",
                    now=time.time(),
                    error_message=message,
                )
            report.failed.append((window.key, message))
            say(f"window {window.key} failed: {message}")
            return
    report.built.append((window.key, str(result.row["path"])))


def run_forever(
    settings: Settings,
    dbs: Databases,
    *,
    scheduler_id: str,
    stop: threading.Event | None = None,
    progress: Callable[[str], None] | None = None,
    guard: StopGuard | None = None,
) -> None:
    """Run passes every ``poll_interval_s`` until ``stop`` (or ``guard.stop``) is set.

    With a ``guard`` (installed as the process's signal handler), SIGTERM / SIGINT
    during a build abandons it, releasing its window, and returns.
    """
    if guard is not None:
        stop = guard.stop
    stop = stop or threading.Event()
    say = progress or (lambda msg: log.info("%s", msg))
    while not stop.is_set():
        try:
            report = run_once(settings, dbs, scheduler_id=scheduler_id, progress=say, guard=guard)
        except MosaicInterrupted:
            return
        except ContimgError as exc:
            say(f"scheduler pass failed: {exc}; next pass in {settings.mosaic.poll_interval_s:g} s")
        except Exception:  # a database hiccup must not stop the scheduler for good
            log.exception("scheduler pass failed; retrying next pass")
        else:
            for key, reason in report.waiting:
                log.debug("window %s waits: %s", key, reason)
        stop.wait(settings.mosaic.poll_interval_s)
