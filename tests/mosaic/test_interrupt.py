"""A real ``contimg mosaic schedule`` process stopped in the middle of a build.

SIGTERM: the process exits within seconds, the window goes back to 'pending' (the
attempt not counted) and the next start builds it. SIGKILL: the window is left
'building', held by a process that no longer exists; the next start on this host
sees its holder is gone and builds it at once (not after the lease).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.products import mosaic_windows, mosaics
from tests.factories import mosaic as synth

from .test_scheduler import START

pytestmark = pytest.mark.timeout(300)

CONTIMG = str(Path(sys.executable).parent / "contimg")
N_IMAGES = 6
# Big enough that a build takes a few seconds (more under load), small enough that one
# input's resampling (C code: the signal is handled after it) is short and a rebuild
# fits in a minute even at load 16 on 2 cores.
SLOW = synth.SynthConfig(
    n_px=256, cell_arcsec=20.0, beam_major_arcsec=100.0, beam_minor_arcsec=60.0
)
LEASE_S = 600.0
"""Longer than the test: a killed build is retaken because its holder is gone, not
because its lease ran out."""


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTIMG_")}
    env.update(
        CONTIMG_HOME=str(settings.home),
        CONTIMG_MOSAIC__POLL_INTERVAL_S="0.5",
        CONTIMG_MOSAIC__LEASE_S=f"{LEASE_S:g}",
        OPENBLAS_NUM_THREADS="1",
    )
    if settings.database_url:
        env["CONTIMG_DATABASE_URL"] = settings.database_url
    return env


def _start(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [CONTIMG, "mosaic", "schedule"], env=_env(settings), stdout=out, stderr=out
        )


def _window(dbs: Databases) -> dict[str, object] | None:
    with dbs.products.read() as conn:
        row = conn.execute(sa.select(mosaic_windows)).first()
    return None if row is None else dict(row._mapping)


def _n_mosaics(dbs: Databases) -> int:
    with dbs.products.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(mosaics)).scalar_one())


def _wait(cond: Callable[[], bool], what: str, timeout_s: float, log: Path) -> float:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"timed out waiting for {what}; log:\n{log.read_text()}")
        time.sleep(0.1)
    return time.monotonic() - t0


def _prepare(dbs: Databases, tmp_path: Path) -> None:
    groups = synth.drift_groups(
        tmp_path / "img", start_mjd=START + 0.001, n_groups=N_IMAGES, ra0_deg=30.0,
        sources=[], seed=5, cfg=SLOW,
    )  # fmt: skip
    with dbs.products.write() as conn:
        synth.record_groups(conn, groups)
    with dbs.ingest.write() as conn:  # the data stopped long ago: the window is closed
        synth.record_queue(conn, groups, state="completed", received_at=time.time() - 1e4)


def _interrupt_mid_build(
    dbs: Databases, settings: Settings, log: Path, sig: signal.Signals
) -> tuple[subprocess.Popen[bytes], float]:
    proc = _start(settings, log)
    building = lambda: (w := _window(dbs)) is not None and w["state"] == "building"  # noqa: E731
    _wait(building, "the build to start", 120, log)
    time.sleep(0.3)  # in the middle of resampling the inputs
    assert proc.poll() is None and building() and _n_mosaics(dbs) == 0, log.read_text()
    t0 = time.monotonic()
    proc.send_signal(sig)
    proc.wait(timeout=30)
    return proc, time.monotonic() - t0


def _rebuilt_on_restart(dbs: Databases, settings: Settings, log: Path, *, attempts: int) -> float:
    proc = _start(settings, log)
    try:
        done = lambda: (w := _window(dbs)) is not None and w["state"] == "done"  # noqa: E731
        elapsed = _wait(done, "the window rebuilt", 60, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    window = _window(dbs)
    assert window is not None and window["attempts"] == attempts, window
    with dbs.products.read() as conn:
        (row,) = conn.execute(sa.select(mosaics)).all()
    assert row.n_images == N_IMAGES
    assert Path(row.path).is_file() and Path(row.thumbnail_path).is_file()
    assert window["mosaic_path"] == row.path
    return elapsed


def test_sigterm_mid_build_releases_the_window(
    dbs: Databases, settings: Settings, tmp_path: Path
) -> None:
    _prepare(dbs, tmp_path)
    log = tmp_path / "scheduler.log"
    proc, stop_s = _interrupt_mid_build(dbs, settings, log, signal.SIGTERM)
    assert stop_s < 10.0, f"stopping took {stop_s:.1f} s"
    assert proc.returncode == 0, log.read_text()
    window = _window(dbs)
    assert window is not None
    assert (window["state"], window["attempts"], window["claimed_by"]) == ("pending", 0, None)
    assert "interrupted by SIGTERM" in str(window["error_message"])
    assert _n_mosaics(dbs) == 0
    assert not list((settings.products_path / "mosaics").glob(".*.tmp-*"))
    rebuilt_s = _rebuilt_on_restart(dbs, settings, log, attempts=1)
    print(f"SIGTERM mid-build: exited in {stop_s:.2f} s; rebuilt {rebuilt_s:.1f} s after restart")
    assert rebuilt_s < 60.0


def test_sigkill_mid_build_is_rebuilt_at_the_next_start(
    dbs: Databases, settings: Settings, tmp_path: Path
) -> None:
    _prepare(dbs, tmp_path)
    log = tmp_path / "scheduler.log"
    proc, _ = _interrupt_mid_build(dbs, settings, log, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    window = _window(dbs)
    assert window is not None and window["state"] == "building"  # nobody could say otherwise
    assert str(window["claimed_by"]).endswith(f":{proc.pid}")
    # A build killed outright counts an attempt (the kernel may have killed it for its
    # memory: max_attempts stops a window that kills every builder).
    elapsed = _rebuilt_on_restart(dbs, settings, log, attempts=2)
    print(f"SIGKILL mid-build: rebuilt {elapsed:.1f} s after restart")
    assert elapsed < 60.0 < LEASE_S
    assert "is gone; building it again" in log.read_text()
