"""``contimg demo``: the whole live pipeline on a simulated DSA-110 sky, on one machine.

What it does, in order (each step is skipped when its result already exists, so a
second run resumes where the first stopped):

1. create the demo home and its four databases;
2. simulate NVSS/FIRST/VLASS-like catalogs of the strip of sky the run will drift
   through, and build the master catalog from them;
3. run side by side, under :class:`contimg.supervisor.Supervisor`:
   the simulator streaming groups into the incoming directory (a calibrator transit
   first, then science groups, one group every ``pace_s`` seconds), the ingest
   watcher, ``workers`` workers, the mosaic scheduler and the dashboard server.

Ctrl-C (SIGINT) or SIGTERM stops every process cleanly.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

import sqlalchemy as sa

from contimg.config import DATABASE_NAMES, Settings
from contimg.db import migrations
from contimg.db.engine import Databases, open_database
from contimg.supervisor import Child, Supervisor

log = logging.getLogger(__name__)

DEMO_START = "2025-10-02T00:00:00"
"""Nominal start of the simulated run; the simulator moves it so the calibrator
transits in the first group."""


@dataclass
class DemoOptions:
    """Knobs of ``contimg demo`` (all have defaults that suit this 2-core machine)."""

    groups: int = 24
    workers: int = 1
    pace_s: float = 180.0
    preset: str = "demo"
    dec_deg: float = 49.85
    calibrator: str = "3C147"
    seed: int = 110
    host: str = "127.0.0.1"
    port: int = 8000
    mosaic_groups: int = 4
    """Groups per automatic mosaic window (the demo's windows are shorter than the
    production hour so a mosaic appears within minutes)."""
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """Environment of every child: demo-friendly cadences, then ``extra_env``."""
        from contimg.telescope import DSA110

        return {
            "CONTIMG_MOSAIC__WINDOW_S": f"{self.mosaic_groups * DSA110.group_duration_s:.3f}",
            "CONTIMG_MOSAIC__POLL_INTERVAL_S": "15",
            "CONTIMG_WORKER__LEASE_S": "60",
            "CONTIMG_WORKER__HEARTBEAT_S": "10",
            "OPENBLAS_NUM_THREADS": "1",
            **self.extra_env,
        }


def contimg_argv(settings: Settings, *args: str) -> list[str]:
    """A ``contimg`` command line that runs with the same directories and database."""
    argv = [sys.executable, "-m", "contimg", "--home", str(settings.home)]
    argv += ["--state-dir", str(settings.state_path)]
    argv += ["--incoming-dir", str(settings.incoming_path)]
    argv += ["--products-dir", str(settings.products_path)]
    if settings.database_url:
        argv += ["--database-url", settings.database_url]
    return [*argv, *args]


def init_databases(settings: Settings) -> None:
    for path in (settings.state_path, settings.incoming_path, settings.products_path):
        path.mkdir(parents=True, exist_ok=True)
    for name in DATABASE_NAMES:
        db = open_database(settings, name, create_dirs=True)
        try:
            migrations.upgrade(db)
        finally:
            db.dispose()


def catalog_is_built(settings: Settings) -> bool:
    from contimg.db.master_sources import sources

    dbs = Databases(settings)
    try:
        with dbs.master_sources.read() as conn:
            return bool(conn.execute(sa.select(sa.func.count()).select_from(sources)).scalar())
    finally:
        dbs.dispose()


def sky_strip(opts: DemoOptions) -> tuple[float, float, float]:
    """Centre RA, Dec and radius (deg) of a cone holding every field of the run.

    The start RA is the calibrator's (it transits in the first group); each group
    drifts 309 s x 15.04 arcsec/s = 1.29 deg of RA.
    """
    import numpy as np

    from contimg.sim.observe import calibrator_position
    from contimg.telescope import DSA110

    cal_ra, _ = calibrator_position(opts.calibrator)
    span_ra = opts.groups * DSA110.group_duration_s * 360.0 / 86164.0905
    centre_ra = (cal_ra + 0.5 * span_ra) % 360.0
    half_width = 0.5 * span_ra * float(np.cos(np.radians(opts.dec_deg)))
    fov = 2.5  # beyond half the imaged field and the primary beam's first null
    return centre_ra, opts.dec_deg, half_width + fov


def prepare_catalog(
    settings: Settings, opts: DemoOptions, run: Callable[[list[str]], None]
) -> None:
    """Simulate survey catalogs for the run's sky and build the master catalog."""
    if catalog_is_built(settings):
        log.info("master catalog already built; skipping")
        return
    cat_dir = settings.home / "catalogs"
    ra, dec, radius = sky_strip(opts)
    run(
        contimg_argv(
            settings, "sim", "catalogs", "--out", str(cat_dir), "--ra", f"{ra:.4f}",
            "--dec", f"{dec:.4f}", "--radius", f"{radius:.3f}", "--seed", str(opts.seed),
        )
    )  # fmt: skip
    run(
        contimg_argv(
            settings, "catalog", "build", "--nvss", str(cat_dir / "nvss.fits"),
            "--first", str(cat_dir / "first.fits"), "--vlass", str(cat_dir / "vlass.fits"),
        )
    )  # fmt: skip


def children(settings: Settings, opts: DemoOptions) -> list[Child]:
    """The long-lived processes of the demo."""
    cat_dir = settings.home / "catalogs"
    env = opts.env()
    sim_argv = contimg_argv(
        settings, "sim", "observe", "--out", str(settings.incoming_path),
        "--truth-dir", str(settings.home / "truth"), "--start", DEMO_START,
        "--groups", str(opts.groups), "--dec", f"{opts.dec_deg}", "--catalog-dir", str(cat_dir),
        "--preset", opts.preset, "--seed", str(opts.seed), "--calibrator", opts.calibrator,
        "--pace", f"{opts.pace_s}", "--skip-existing",
    )  # fmt: skip
    kids = [
        Child("simulator", sim_argv, once=True, env=env),
        Child("watcher", contimg_argv(settings, "ingest", "watch"), env=env),
        *(
            Child(f"worker-{i + 1}", contimg_argv(settings, "worker"), env=env)
            for i in range(opts.workers)
        ),
        Child("mosaics", contimg_argv(settings, "mosaic", "schedule"), env=env),
        Child(
            "server",
            contimg_argv(settings, "serve", "--host", opts.host, "--port", str(opts.port)),
            env=env,
        ),
    ]
    return kids


class _Stop:
    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


def progress_line(settings: Settings) -> str:
    """One line on how far the pipeline has got (queue, images, candidates, mosaics)."""
    from contimg.db.products import ese_candidates, images, mosaics
    from contimg.db.queries.status import queue_stats

    dbs = Databases(settings)
    try:
        with dbs.ingest.read() as conn:
            q = queue_stats(conn)
        with dbs.products.read() as conn:

            def count(table: sa.Table) -> int:
                return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

            n_img, n_ese, n_mos = count(images), count(ese_candidates), count(mosaics)
    finally:
        dbs.dispose()
    return (
        f"groups: {q.completed} completed, {q.in_progress} in progress, {q.pending} pending, "
        f"{q.collecting} collecting, {q.failed} failed | images {n_img} | "
        f"ESE candidates {n_ese} | mosaics {n_mos}"
    )


def run_demo(
    settings: Settings,
    opts: DemoOptions,
    *,
    echo: Callable[[str], None] = print,
    until: Callable[[], bool] | None = None,
    poll_s: float = 1.0,
    report_every_s: float = 30.0,
) -> None:
    """Run the demo until Ctrl-C / SIGTERM, or until ``until()`` returns True."""
    import subprocess

    def run(argv: list[str]) -> None:
        echo("$ contimg " + " ".join(argv[3:]))
        subprocess.run(argv, check=True)

    from contimg.api.auth import load_or_create_token

    init_databases(settings)
    prepare_catalog(settings, opts, run)
    token, _ = load_or_create_token(settings)
    sup = Supervisor(children(settings, opts), log_dir=settings.home / "logs")
    stop = _Stop()
    old_int = signal.signal(signal.SIGINT, stop)
    old_term = signal.signal(signal.SIGTERM, stop)
    sup.start()
    echo(f"dashboard:   http://{opts.host}:{opts.port}/")
    echo(f"write token: {token}   (paste it in the dashboard's settings to triage candidates)")
    echo(f"logs:        {settings.home / 'logs'}")
    echo("Ctrl-C stops every process; running the same command again resumes.")
    last_report = 0.0
    try:
        while not stop.requested and not (until is not None and until()):
            for event in sup.poll():
                echo(event)
            if time.monotonic() - last_report >= report_every_s:
                echo(progress_line(settings))
                last_report = time.monotonic()
            time.sleep(poll_s)
    finally:
        echo("stopping every process...")
        sup.stop()
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        echo("stopped; run the same command again to resume")
