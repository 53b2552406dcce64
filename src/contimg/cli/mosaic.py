"""``contimg mosaic``: build deep mosaics of time windows, list them, run the scheduler."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from contimg.cli.common import require_deployment, settings
from contimg.errors import ContimgError

if TYPE_CHECKING:
    from contimg.config import Settings
    from contimg.db.engine import Databases

app = typer.Typer(
    help=(
        "Deep images of time windows: primary-beam-corrected images combined with "
        "inverse-variance weights on a common grid (docs/mosaics.md)."
    ),
    no_args_is_help=True,
)


def parse_time(text: str, *, option: str) -> float:
    """MJD (UTC) of an ISO time ('2026-11-25T17:00:00', '2026-11-25 17:00', '2026-11-25')
    or of a bare MJD number."""
    from astropy.time import Time
    from astropy.utils import iers

    iers.conf.auto_download = False
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return float(Time(text.strip().replace(" ", "T"), format="isot", scale="utc").mjd)
    except ValueError:
        try:
            return float(Time(text.strip(), format="iso", scale="utc").mjd)
        except ValueError:
            raise ContimgError(
                f"{option} {text!r} is not a time: use ISO UTC like 2026-11-25T17:00:00 or an MJD"
            ) from None


def _open(cfg: Settings) -> Databases:
    from contimg.db import migrations
    from contimg.db.engine import Databases

    dbs = Databases(cfg)
    for name in ("products", "ingest"):
        st = migrations.status(dbs[name])
        if not st.exists or st.current is None:
            raise ContimgError(
                f"no {name} database at {dbs[name].location}; run 'contimg db init' first"
            )
        if st.pending:
            raise ContimgError(
                f"the {name} database {dbs[name].location} is at {st.current}, not {st.head}; "
                "run 'contimg db upgrade'"
            )
    return dbs


def _when(unix_s: float | None) -> str:
    if unix_s is None:
        return "-"
    return datetime.fromtimestamp(float(unix_s), tz=UTC).strftime("%Y-%m-%d %H:%M")


@app.command()
def build(
    ctx: typer.Context,
    start: Annotated[str, typer.Option(help="Window start, ISO UTC (or MJD).", show_default=False)],
    end: Annotated[str, typer.Option(help="Window end, ISO UTC (or MJD).", show_default=False)],
    dec_min: Annotated[
        float | None,
        typer.Option(help="Only images pointed at Dec >= this (deg).", show_default=False),
    ] = None,
    dec_max: Annotated[
        float | None,
        typer.Option(help="Only images pointed at Dec <= this (deg).", show_default=False),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            help="Mosaic name (and file stem). Default: <start>_<length>.", show_default=False
        ),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Rebuild a mosaic of the same name.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
) -> None:
    """Combine the primary-beam-corrected images observed in [START, END) into one mosaic.

    Writes PRODUCTS/mosaics/<name>.fits, <name>.noise.fits and <name>.png and
    records the mosaics row.
    """
    from contimg.mosaic.builder import build_mosaic

    cfg = settings(ctx)
    start_mjd = parse_time(start, option="--start")
    end_mjd = parse_time(end, option="--end")
    dbs = _open(cfg)
    try:
        result = build_mosaic(
            cfg,
            dbs,
            start_mjd=start_mjd,
            end_mjd=end_mjd,
            dec_min_deg=dec_min,
            dec_max_deg=dec_max,
            name=name,
            replace=replace,
            progress=None if quiet else lambda msg: typer.echo(msg, err=True),
        )
    finally:
        dbs.dispose()
    row = result.row
    typer.echo(
        f"{row['name']}: {row['n_images']} images, {row['integration_sec'] / 3600:.2f} h, "
        f"noise {row['noise_jy'] * 1e3:.3f} mJy/beam, {row['n_sources']} sources, "
        f"{result.timings_s['total_s']:.1f} s"
    )
    typer.echo(f"  mosaic    {row['path']}")
    typer.echo(f"  noise map {result.noise_path}")
    typer.echo(f"  thumbnail {row['thumbnail_path']}")


@app.command(name="list")
def list_(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
) -> None:
    """The newest mosaics (the dashboard's 'recent mosaics')."""
    from contimg.db.queries.patterns import recent_mosaics
    from contimg.mosaic.builder import mjd_to_iso

    dbs = _open(settings(ctx))
    try:
        with dbs.products.read() as conn:
            rows = recent_mosaics(conn, limit=limit)
    finally:
        dbs.dispose()
    if not rows:
        typer.echo("no mosaics yet")
        return
    typer.echo(
        f"{'name':<34} {'start (UTC)':<19} {'hours':>6} {'images':>6} {'sources':>7} "
        f"{'noise mJy':>9}  path"
    )
    for r in rows:
        typer.echo(
            f"{r.name:<34} {mjd_to_iso(r.start_mjd):<19} {r.hours or 0:>6.2f} "
            f"{r.n_images or 0:>6} {r.n_sources or 0:>7} {r.noise_mjy or 0:>9.3f}  {r.path}"
        )


@app.command()
def windows(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 30,
) -> None:
    """Automatic windows the scheduler has claimed, built, or failed (with the reason)."""
    from contimg.db.queries.mosaics import list_windows

    dbs = _open(settings(ctx))
    try:
        with dbs.products.read() as conn:
            rows = list_windows(conn, limit=limit)
    finally:
        dbs.dispose()
    if not rows:
        typer.echo("no windows yet")
        return
    for r in rows:
        extra = r.mosaic_path or r.error_message or ""
        typer.echo(
            f"{r.window_key:<40} {r.state:<9} attempts {r.attempts}  "
            f"updated {_when(r.updated_at)}  {extra}"
        )


@app.command()
def schedule(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    scheduler_id: Annotated[
        str | None,
        typer.Option(
            "--id", help="Name of this scheduler in claims. Default: host:pid.", show_default=False
        ),
    ] = None,
) -> None:
    """Build automatic mosaics of finished windows (until Ctrl-C, or one pass).

    Windows are mosaic.window_s of LST (default 1 h) on each sidereal day; each is
    built once all its images exist, and never twice. SIGTERM / Ctrl-C stops at once:
    a build in progress is abandoned and its window built again at the next start.
    """
    from contimg.mosaic.scheduler import MosaicInterrupted, StopGuard, run_forever, run_once

    cfg = settings(ctx)
    require_deployment(cfg, command="contimg mosaic schedule")
    ident = scheduler_id or f"{socket.gethostname()}:{os.getpid()}"
    dbs = _open(cfg)

    def say(msg: str) -> None:
        typer.echo(msg, err=True)

    guard = StopGuard()
    guard.install()
    try:
        if once:
            try:
                report = run_once(cfg, dbs, scheduler_id=ident, progress=say, guard=guard)
            except MosaicInterrupted:
                raise typer.Exit(130) from None
            for key, path in report.built:
                typer.echo(f"built  {key} -> {path}")
            for key, reason in report.waiting:
                typer.echo(f"waits  {key}: {reason}")
            for key, error in report.failed:
                typer.echo(f"failed {key}: {error}")
            if not (report.built or report.waiting or report.failed):
                typer.echo("nothing to do")
            return
        typer.echo(
            f"mosaic scheduler {ident}: windows of {cfg.mosaic.window_s:g} s of LST from LST "
            f"{cfg.mosaic.lst_origin_h:g} h, pass every {cfg.mosaic.poll_interval_s:g} s "
            "(Ctrl-C stops)",
            err=True,
        )
        run_forever(cfg, dbs, scheduler_id=ident, progress=say, guard=guard)
        typer.echo("stopped", err=True)
    finally:
        guard.uninstall()
        dbs.dispose()
