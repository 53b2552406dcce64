"""``contimg reprocess``: queue an archive again, without the watcher."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from contimg.cli.common import require_deployment, settings
from contimg.errors import ContimgError


def _group_time(text: str | None, *, option: str) -> str | None:
    """A time option as the group id it bounds (``YYYY-MM-DDTHH:MM:SS``, UTC)."""
    if text is None:
        return None
    from astropy.time import Time

    from contimg.cli.mosaic import parse_time

    mjd = parse_time(text, option=option)
    return str(Time(mjd, format="mjd", scale="utc").strftime("%Y-%m-%dT%H:%M:%S"))


def reprocess(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="Archive directory: its subband files are scanned (new ones become groups) "
            "and its groups queued. Without it, --start/--end select groups already known.",
            show_default=False,
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="Only groups at or after this time (ISO UTC or MJD).", show_default=False
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            help="Only groups at or before this time (ISO UTC or MJD).", show_default=False
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Setting for this run only, SECTION.NAME=VALUE (calibration, imaging, "
            "photometry; repeatable), e.g. --set imaging.robust=0.5.",
            show_default=False,
        ),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Overwrite the groups' earlier products (default: keep them in "
            "PRODUCTS/previous/TAG/GROUP).",
        ),
    ] = False,
    tag: Annotated[
        str | None,
        typer.Option(
            help="Name of this run (default reprocess-YYYYMMDDTHHMMSS).", show_default=False
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option("--follow", help="Then show progress until every group of the run is done."),
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between progress lines with --follow.")
    ] = 10.0,
) -> None:
    """Queue finished groups again (an archive directory, or a time range of known
    groups), optionally with other settings, for any worker sharing the database (on
    this or other machines). Groups waiting or being processed keep their place."""
    from contimg.cli.ingest import _load_hooks, open_ingest_db
    from contimg.db.queries.ingest import reprocess as rq
    from contimg.ingest import reprocess as rp
    from contimg.ingest.scanner import scan_once

    cfg = settings(ctx)
    require_deployment(cfg, command="contimg reprocess")
    overrides = rp.parse_overrides(cfg, set_ or [])
    first = _group_time(start, option="--start")
    last = _group_time(end, option="--end")
    if first and last and first > last:
        raise ContimgError(f"--start {start} is after --end {end}")
    if directory is None and first is None and last is None:
        raise ContimgError("name an archive DIRECTORY, or select known groups with --start/--end")
    run_tag = tag or time.strftime("reprocess-%Y%m%dT%H%M%S", time.gmtime())
    where = (
        f"between {first or 'the first group'} and {last or 'the last group'}"
        if first or last
        else ""
    )
    db = open_ingest_db(cfg)
    try:
        if directory is not None:
            target = directory.resolve()
            if not target.is_dir():
                raise ContimgError(f"{target} is not a directory")
            if not any(target.rglob("*.hdf5")):
                raise ContimgError(f"no subband files (*.hdf5) in {target}; nothing queued")
            _load_hooks(cfg)
            report = scan_once(
                db, cfg, target, finalize=True, progress=lambda m: typer.echo(m, err=True)
            )
            typer.echo(f"scan of {target}: {report.summary()}", err=True)
            with db.read() as conn:
                found = set(rq.groups_under(conn, directory=target))
                if first or last:
                    found &= set(rq.groups_in_range(conn, start=first, end=last))
            groups = sorted(found)
            if not groups:
                raise ContimgError(
                    f"no groups of {target} {where}; nothing queued".replace("  ", " ")
                )
        else:
            with db.read() as conn:
                groups = rq.groups_in_range(conn, start=first, end=last)
            if not groups:
                raise ContimgError(f"no groups {where} in the ingest queue; nothing queued")
        queued = rp.enqueue(
            db, group_ids=groups, run_tag=run_tag, overrides=overrides, keep_previous=not replace
        )
        typer.echo(
            f"{run_tag}: {len(queued.queued)} groups queued again, "
            f"{len(queued.already_queued)} already waiting or running "
            f"({groups[0]} .. {groups[-1]}); settings: {overrides or 'unchanged'}; "
            f"earlier products {'replaced' if replace else 'kept in previous/' + run_tag}"
        )
        if follow:
            _follow(db, run_tag=run_tag, total=len(groups), interval=interval)
    finally:
        db.dispose()


def _follow(db, *, run_tag: str, total: int, interval: float) -> None:  # type: ignore[no-untyped-def]
    from contimg.ingest import reprocess as rp

    t0 = time.monotonic()
    while True:
        counts = rp.progress(db, run_tag=run_tag)
        done = counts.get("completed", 0)
        failed = counts.get("failed", 0)
        running = counts.get("in_progress", 0) + counts.get("processing_fresh", 0)
        elapsed = time.monotonic() - t0
        typer.echo(
            f"{run_tag}: {done}/{total} completed, {failed} failed, {running} running, "
            f"{counts.get('pending', 0) + counts.get('collecting', 0)} waiting ({elapsed:.0f} s)",
            err=True,
        )
        if done + failed >= total:
            return
        time.sleep(interval)
