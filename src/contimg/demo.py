"""``contimg demo``: the whole live pipeline on a simulated DSA-110 sky, on one machine.

What it does, in order (each step is skipped when its result already exists, so a
second run resumes where the first stopped):

1. create the demo home and its four databases;
2. simulate NVSS/FIRST/VLASS-like catalogs of the strip of sky the run will drift
   through, with one injected source that goes through an extreme scattering event
   (ESE), write ``demo.json`` (the schedule and that source), and build the master
   catalog;
3. run side by side, under :class:`contimg.supervisor.Supervisor`:
   the simulator streaming groups into the incoming directory (one group every
   ``pace_s`` seconds), the ingest watcher, ``workers`` workers, the mosaic scheduler
   and the dashboard server.

The schedule is DSA-110's own way of getting epochs: the same LST strip on
successive sidereal days. Each day: the calibrator's transit group, then
``science_groups`` consecutive science groups starting ``science_offset`` groups
later (the groups in between are not simulated). The injected source sits in the
middle of the science strip and dips from day ``ese_day`` on, so its light curve has
steady epochs first (and the references their frozen baselines) and then the dip
that the pipeline's unchanged ESE rules flag. See ``docs/demo.md``.

Ctrl-C (SIGINT) or SIGTERM stops every process cleanly: the supervisor signals its
children (not their tools), and a worker returns the group it was processing to the
queue without counting an attempt.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from contimg.config import DATABASE_NAMES, Settings
from contimg.db import migrations
from contimg.db.engine import Databases, open_database
from contimg.supervisor import Child, Supervisor

if TYPE_CHECKING:
    from contimg.sim.plan import GroupPlan

log = logging.getLogger(__name__)

DEMO_START = "2025-10-02T00:00:00"
"""Nominal start of the simulated run; the simulator moves it so the calibrator
transits in the first group."""

MANIFEST = "demo.json"
"""In the demo home: the run's schedule and the injected ESE source (JSON)."""


@dataclass
class DemoOptions:
    """Knobs of ``contimg demo`` (all have defaults that suit this 2-core machine)."""

    days: int = 6
    """Sidereal days observed: every day the same LST strip (a calibrator transit, then
    the science groups), as DSA-110 revisits its strip of sky once a day."""
    science_groups: int = 3
    """Science groups per day, consecutive."""
    science_offset: int = 8
    """The science strip starts this many groups (~41 min) after the calibrator's transit
    group, when the calibrator is ~10 deg of RA away; the groups in between are not
    simulated (their images would carry the calibrator's sidelobes)."""
    workers: int = 2
    pace_s: float = 30.0
    preset: str = "ci"
    dec_deg: float = 49.85
    calibrator: str = "3C147"
    seed: int = 110
    host: str = "127.0.0.1"
    port: int = 8000
    mosaic_groups: int | None = None
    """Groups per automatic mosaic window (default ``science_groups``: one mosaic per
    day's science strip). The windows start at the strip's LST, so each sidereal day's
    strip is one mosaic; they are shorter than the production hour of LST so a mosaic
    appears within minutes."""
    ese_day: int = 3
    """Day (1-based) from which the injected source is in its ESE dip: after two days of
    steady epochs, so its baseline and the references' are set before the dip."""
    ese_flux_mjy: float = 200.0
    ese_depth: float = 0.45
    ese_duration_days: float = 3.0
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def day_groups(self) -> int:
        """Consecutive groups spanned by one day's schedule (calibrator to strip end)."""
        return self.science_offset + self.science_groups

    @property
    def select(self) -> list[int]:
        """The day's groups that are simulated: the calibrator's and the science strip."""
        return [0, *range(self.science_offset, self.day_groups)]

    def mosaic_window(self) -> tuple[float, float]:
        """``(window_s, lst_origin_h)`` of the demo's automatic mosaics: windows of
        ``mosaic_groups`` groups of LST starting at the first science group's LST, so
        that every sidereal day's science strip is one window."""
        from contimg.mosaic.scheduler import lst_hours, sidereal_length_s
        from contimg.telescope import DSA110

        n = self.mosaic_groups or self.science_groups
        first_science = plan(self)[1]
        window_s = sidereal_length_s(n * DSA110.group_duration_s)
        return window_s, lst_hours(first_science.start_mjd)

    def env(self) -> dict[str, str]:
        """Environment of every child: demo-friendly cadences, then ``extra_env``."""
        window_s, lst_origin_h = self.mosaic_window()
        return {
            "CONTIMG_IMAGING__PRESET": self.preset,
            "CONTIMG_MOSAIC__WINDOW_S": f"{window_s:.3f}",
            "CONTIMG_MOSAIC__LST_ORIGIN_H": f"{lst_origin_h:.6f}",
            # The last window also closes 2 min after the data stop (production 30 min).
            "CONTIMG_MOSAIC__IDLE_CLOSE_S": "120",
            "CONTIMG_MOSAIC__POLL_INTERVAL_S": "15",
            "CONTIMG_WORKER__LEASE_S": "60",
            "CONTIMG_WORKER__HEARTBEAT_S": "10",
            # A science group that a second worker takes while its day's calibrator
            # transit is still being solved waits 20 s, not the production 5 min.
            "CONTIMG_CALIBRATION__RETRY_AFTER_S": "20",
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
            migrations.upgrade(db, home=settings.home)
        finally:
            db.dispose()


def catalog_is_built(settings: Settings) -> bool:
    from contimg.db.queries.sources import catalog_is_empty

    dbs = Databases(settings)
    try:
        with dbs.master_sources.read() as conn:
            return not catalog_is_empty(conn)
    finally:
        dbs.dispose()


def plan(opts: DemoOptions) -> list[GroupPlan]:
    """Every group the simulator will write, in time order (the same computation as
    ``contimg sim observe`` with the demo's arguments)."""
    from contimg.sim.astro import mjd_from_iso
    from contimg.sim.plan import calibrator_start_mjd, plan_groups

    start = calibrator_start_mjd(opts.calibrator, after_mjd=mjd_from_iso(DEMO_START))
    return plan_groups(start, opts.day_groups, seed=opts.seed, days=opts.days, select=opts.select)


def sky_strip(opts: DemoOptions) -> tuple[float, float, float]:
    """Centre RA, Dec and radius (deg) of a cone holding every field of the run.

    The start RA is the calibrator's (it transits in the first group); each group
    drifts 309 s x 15.04 arcsec/s = 1.29 deg of RA; every day repeats the same RAs.
    """
    import numpy as np

    from contimg.sim.plan import calibrator_position
    from contimg.telescope import DSA110

    cal_ra, _ = calibrator_position(opts.calibrator)
    span_ra = opts.day_groups * DSA110.group_duration_s * 360.0 / 86164.0905
    centre_ra = (cal_ra + 0.5 * span_ra) % 360.0
    half_width = 0.5 * span_ra * float(np.cos(np.radians(opts.dec_deg)))
    fov = 2.5  # beyond half the imaged field and the primary beam's first null
    return centre_ra, opts.dec_deg, half_width + fov


def injected_ese(opts: DemoOptions, plans: list[GroupPlan]) -> dict[str, Any]:
    """Position and light curve of the demo's ESE source.

    It sits at the centre of the science strip, so every day's science groups all
    see it. Its dip's leading edge passes half a day before the first science group
    of day ``ese_day``: the days before give steady epochs (and the references'
    baselines), the days from then on show the dip, which lasts
    ``ese_duration_days`` (then the source recovers).
    """
    from contimg.sim.astro import SIDEREAL_DAY_S, icrs_of_pointing
    from contimg.sim.variability import ese
    from contimg.telescope import DSA110

    science = plans[1 : len(opts.select)]
    mid = 0.5 * (science[0].start_mjd + science[-1].start_mjd) + 0.5 * (
        DSA110.group_duration_s / 86_400.0
    )
    ra, dec = icrs_of_pointing(mid, opts.dec_deg)
    edge = science[0].start_mjd + (opts.ese_day - 1) * SIDEREAL_DAY_S / 86_400.0 - 0.5
    duration_s = opts.ese_duration_days * 86_400.0
    light_curve = ese(
        t_center_mjd=edge + 0.5 * opts.ese_duration_days,
        duration_s=duration_s,
        depth=opts.ese_depth,
        edge_boost=0.15,
    )
    return {
        "ra_deg": ra,
        "dec_deg": dec,
        "flux_1400_mjy": opts.ese_flux_mjy,
        "dip_starts_mjd": edge,
        "dips_on_day": opts.ese_day,
        "light_curve": light_curve,
    }


def prepare_catalog(
    settings: Settings,
    opts: DemoOptions,
    run: Callable[[list[str]], None],
    echo: Callable[[str], None] = print,
) -> None:
    """Simulate survey catalogs of the run's sky, with the injected ESE source, write
    the demo manifest, and build the master catalog."""
    from contimg.sim.sky import inject_source, make_sky, write_catalogs

    if catalog_is_built(settings):
        log.info("master catalog already built; skipping")
        return
    cat_dir = settings.home / "catalogs"
    plans = plan(opts)
    ra, dec, radius = sky_strip(opts)
    echo(f"simulating survey catalogs: {radius:.1f} deg around RA {ra:.2f}, Dec {dec:.2f}")
    sky = make_sky(
        ra_deg=ra, dec_deg=dec, radius_deg=radius, seed=opts.seed,
        epoch_mjd=plans[0].start_mjd, span_days=float(opts.days),
    )  # fmt: skip
    ese_info = injected_ese(opts, plans)
    src = inject_source(
        sky, ra_deg=ese_info["ra_deg"], dec_deg=ese_info["dec_deg"],
        flux_1400_mjy=opts.ese_flux_mjy, variability=ese_info["light_curve"],
    )  # fmt: skip
    write_catalogs(sky, cat_dir)  # fills source ids
    per_day = len(opts.select)
    manifest = {
        "format": "contimg-demo/1",
        "calibrator": opts.calibrator,
        "dec_deg": opts.dec_deg,
        "preset": opts.preset,
        "days": opts.days,
        "groups": [
            {
                "group_id": p.group_id,
                "day": p.index // per_day + 1,
                "kind": "calibrator" if p.index % per_day == 0 else "science",
            }
            for p in plans
        ],
        "injected_ese": {"source_id": src.source_id, **ese_info},
    }
    path = settings.home / MANIFEST
    path.write_text(json.dumps(manifest, indent=1))
    echo(
        f"{len(sky.sources)} sources; injected ESE source {src.source_id} "
        f"({opts.ese_flux_mjy:g} mJy, {100 * opts.ese_depth:.0f} % dip from day {opts.ese_day})"
    )
    run(
        contimg_argv(
            settings, "catalog", "build", "--nvss", str(cat_dir / "nvss.fits"),
            "--first", str(cat_dir / "first.fits"), "--vlass", str(cat_dir / "vlass.fits"),
        )
    )  # fmt: skip


def load_manifest(settings: Settings) -> dict[str, Any]:
    """The demo manifest written by :func:`prepare_catalog`."""
    return dict(json.loads((settings.home / MANIFEST).read_text()))


def children(settings: Settings, opts: DemoOptions) -> list[Child]:
    """The long-lived processes of the demo."""
    cat_dir = settings.home / "catalogs"
    env = opts.env()
    select = f"0,{opts.science_offset}-{opts.day_groups - 1}"
    sim_argv = contimg_argv(
        settings, "sim", "observe", "--out", str(settings.incoming_path),
        "--truth-dir", str(settings.home / "truth"), "--start", DEMO_START,
        "--groups", str(opts.day_groups), "--select", select, "--days", str(opts.days),
        "--dec", f"{opts.dec_deg}", "--catalog-dir", str(cat_dir),
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


def progress_line(settings: Settings, injected_id: str | None = None) -> str:
    """One line on how far the pipeline has got (queue, images, candidates, mosaics,
    and whether the injected ESE source ``injected_id`` is a candidate yet)."""
    from contimg.db.queries.products import flag_types_of, product_counts
    from contimg.db.queries.status import queue_stats

    dbs = Databases(settings)
    try:
        with dbs.ingest.read() as conn:
            q = queue_stats(conn)
        with dbs.products.read() as conn:
            counts = product_counts(conn)
            flags = flag_types_of(conn, source_id=injected_id)
    finally:
        dbs.dispose()
    n_img, n_ese, n_mos = counts["images"], counts["ese_candidates"], counts["mosaics"]
    line = (
        f"groups: {q.completed} completed, {q.in_progress} in progress, {q.pending} pending, "
        f"{q.collecting} collecting, {q.failed} failed | images {n_img} | "
        f"ESE candidates {n_ese} | mosaics {n_mos}"
    )
    if injected_id is not None:
        line += f" | injected ESE source flagged: {', '.join(flags) or 'not yet'}"
    return line


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
    from urllib.parse import quote

    def run(argv: list[str]) -> None:
        echo("$ contimg " + " ".join(argv[3:]))
        subprocess.run(argv, check=True)

    from contimg.api.auth import load_or_create_token

    init_databases(settings)
    prepare_catalog(settings, opts, run, echo)
    token, _ = load_or_create_token(settings)
    manifest = settings.home / MANIFEST
    injected_id = (
        str(load_manifest(settings)["injected_ese"]["source_id"]) if manifest.is_file() else None
    )
    sup = Supervisor(children(settings, opts), log_dir=settings.home / "logs")
    stop = _Stop()
    old_int = signal.signal(signal.SIGINT, stop)
    old_term = signal.signal(signal.SIGTERM, stop)
    sup.start()
    echo(f"dashboard:   http://{opts.host}:{opts.port}/")
    echo(f"write token: {token}   (paste it in the dashboard's settings to triage candidates)")
    echo(f"logs:        {settings.home / 'logs'}")
    if injected_id is not None:
        echo(f"ESE source:  http://{opts.host}:{opts.port}/sources/{quote(injected_id)}")
    echo("Ctrl-C stops every process; running the same command again resumes.")
    last_report = 0.0
    try:
        while not stop.requested and not (until is not None and until()):
            for event in sup.poll():
                echo(event)
            if time.monotonic() - last_report >= report_every_s:
                echo(progress_line(settings, injected_id))
                last_report = time.monotonic()
            time.sleep(poll_s)
    finally:
        echo("stopping every process...")
        sup.stop()
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        echo("stopped; run the same command again to resume")
