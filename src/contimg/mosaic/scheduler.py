"""Automatic mosaics: build each time window once all its images exist.

Windows are ``settings.mosaic.window_s`` long (default one hour), aligned to
UTC midnight (MJD boundaries). Inside a window, images whose pointing
declinations differ by more than ``dec_tolerance_deg`` make separate mosaics
(the telescope rarely changes Dec, but a window can straddle a change).

A window is built when

1. it is *closed*: an observation at or after its end is known (products
   ``ms_index`` or the ingest queue), or no group has arrived for
   ``idle_close_s`` (the data stopped);
2. every group of the window in the ingest queue is finished ('completed', or
   'failed' with no retry scheduled);
3. this scheduler wins the window's claim in ``mosaic_windows`` (a primary key,
   so two schedulers never build the same window; a claim left by a killed
   scheduler is retaken after ``claim_timeout_s``; a failed build is retried up
   to ``max_attempts`` times).

The mosaic row and the window's 'done' state are written in one transaction, so
a window is never built twice. Late images of a window already built are not
added automatically (rebuild by hand with ``contimg mosaic build --replace``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.queries import mosaics as q
from contimg.errors import ContimgError
from contimg.mosaic.builder import SECONDS_PER_DAY, build_mosaic, mjd_to_iso
from contimg.telescope import DSA110

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """One automatic mosaic: a time window and a pointing-Dec band."""

    key: str
    start_mjd: float
    end_mjd: float
    dec_min_deg: float
    dec_max_deg: float
    dec_centre_deg: float
    n_images: int

    @property
    def name(self) -> str:
        hours = (self.end_mjd - self.start_mjd) * 24.0
        length = f"{hours:g}h" if abs(hours - round(hours)) < 1e-9 else f"{hours * 60:g}m"
        return f"{mjd_to_iso(self.start_mjd)}_{length}_dec{self.dec_centre_deg:+.1f}"


@dataclass
class PassReport:
    """What one scheduler pass did."""

    built: list[tuple[str, str]] = field(default_factory=list)
    """(window key, mosaic path)"""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(window key, error)"""
    waiting: list[tuple[str, str]] = field(default_factory=list)
    """(window key, why it waits)"""


def plan_windows(
    epochs: Sequence[tuple[float, float]], *, window_s: float, dec_tolerance_deg: float
) -> list[Window]:
    """Windows holding the given image epochs ``(mid_mjd, pointing Dec)``, oldest first.

    Window ``k`` covers ``[k, k + 1) * window_s`` seconds of MJD. Its images'
    Decs are split into bands wherever sorted neighbours differ by more than
    ``dec_tolerance_deg``; each band is one window, keyed
    ``<start ISO>/<window_s>s/dec<centre, 0.1 deg>``.
    """
    by_index: dict[int, list[float]] = {}
    for mid_mjd, dec in epochs:
        k = math.floor(mid_mjd * SECONDS_PER_DAY / window_s + 1e-9)
        by_index.setdefault(k, []).append(dec)
    windows: list[Window] = []
    for k in sorted(by_index):
        start = k * window_s / SECONDS_PER_DAY
        end = (k + 1) * window_s / SECONDS_PER_DAY
        decs = sorted(by_index[k])
        bands: list[list[float]] = [[decs[0]]]
        for d in decs[1:]:
            if d - bands[-1][-1] > dec_tolerance_deg:
                bands.append([d])
            else:
                bands[-1].append(d)
        for band in bands:
            centre = 0.5 * (band[0] + band[-1])
            windows.append(
                Window(
                    key=f"{mjd_to_iso(start)}/{window_s:g}s/dec{centre:+.1f}",
                    start_mjd=start,
                    end_mjd=end,
                    dec_min_deg=band[0] - dec_tolerance_deg / 2,
                    dec_max_deg=band[-1] + dec_tolerance_deg / 2,
                    dec_centre_deg=centre,
                    n_images=len(band),
                )
            )
    return windows


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
) -> PassReport:
    """One pass: build every window that is ready and not built yet."""
    say = progress or (lambda msg: log.info("%s", msg))
    cfg = settings.mosaic
    now = time.time() if now is None else now
    report = PassReport()
    half_group_d = 0.5 * DSA110.group_duration_s / SECONDS_PER_DAY
    window_d = cfg.window_s / SECONDS_PER_DAY

    _remove_stale_temporaries(settings, now=now)
    with dbs.products.read() as conn:
        latest_mjd = q.latest_observation_mjd(conn)
        if latest_mjd is None:
            return report
        since = latest_mjd - cfg.lookback_days
        epochs = q.pbcor_image_epochs(conn, since_mjd=since)
        known = q.window_states(conn, since_mjd=since - window_d)
    with dbs.ingest.read() as conn:
        latest_gid, latest_received = q.latest_group(conn)
    if latest_gid is not None:
        latest_mjd = max(latest_mjd, _iso_to_mjd(latest_gid) + half_group_d)
    idle = latest_received is None or now - latest_received >= cfg.idle_close_s

    for window in plan_windows(
        epochs, window_s=cfg.window_s, dec_tolerance_deg=cfg.dec_tolerance_deg
    ):
        row = known.get(window.key)
        if row is not None and not _retakable(row, now=now, settings=settings):
            continue
        if latest_mjd < window.end_mjd and not idle:
            report.waiting.append((window.key, "window still open"))
            continue
        with dbs.ingest.read() as conn:
            unfinished = q.unfinished_groups(
                conn,
                first_group_id=mjd_to_iso(window.start_mjd - half_group_d),
                end_group_id=mjd_to_iso(window.end_mjd - half_group_d),
            )
        if unfinished:
            report.waiting.append(
                (window.key, f"{len(unfinished)} group(s) still processing, e.g. {unfinished[0]}")
            )
            continue
        if not _claim(dbs, window, row, scheduler_id=scheduler_id, now=now, settings=settings):
            continue
        _build(settings, dbs, window, scheduler_id=scheduler_id, report=report, say=say)
    return report


def _remove_stale_temporaries(settings: Settings, *, now: float) -> None:
    """Delete temporary files of builds killed mid-write (older than the claim timeout)."""
    root = settings.products_path / "mosaics"
    if not root.is_dir():
        return
    for tmp in root.glob(".*.tmp-*"):
        try:
            if tmp.stat().st_mtime < now - settings.mosaic.claim_timeout_s:
                tmp.unlink()
                log.info("removed %s, left by an interrupted mosaic build", tmp)
        except FileNotFoundError:
            continue


def _retakable(row: dict[str, Any], *, now: float, settings: Settings) -> bool:
    cfg = settings.mosaic
    if row["attempts"] >= cfg.max_attempts:
        return False
    if row["state"] == "failed":
        return True
    return bool(
        row["state"] == "building" and (row["claimed_at"] or 0.0) < now - cfg.claim_timeout_s
    )


def _claim(
    dbs: Databases,
    window: Window,
    row: dict[str, Any] | None,
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
        return q.reclaim_window(
            conn,
            window_key=window.key,
            claimed_by=scheduler_id,
            now=now,
            stale_before=now - settings.mosaic.claim_timeout_s,
            max_attempts=settings.mosaic.max_attempts,
        )


def _build(
    settings: Settings,
    dbs: Databases,
    window: Window,
    *,
    scheduler_id: str,
    report: PassReport,
    say: Callable[[str], None],
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

    try:
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
) -> None:
    """Run passes every ``poll_interval_s`` until ``stop`` is set (or forever)."""
    stop = stop or threading.Event()
    say = progress or (lambda msg: log.info("%s", msg))
    while not stop.is_set():
        try:
            report = run_once(settings, dbs, scheduler_id=scheduler_id, progress=say)
        except ContimgError as exc:
            say(f"scheduler pass failed: {exc}; next pass in {settings.mosaic.poll_interval_s:g} s")
        except Exception:  # a database hiccup must not stop the scheduler for good
            log.exception("scheduler pass failed; retrying next pass")
        else:
            for key, reason in report.waiting:
                log.debug("window %s waits: %s", key, reason)
        stop.wait(settings.mosaic.poll_interval_s)
