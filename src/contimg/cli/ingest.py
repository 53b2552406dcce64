"""``contimg ingest``: turn subband files into groups (watch the incoming dir, or scan once)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from contimg.cli.common import require_deployment, settings
from contimg.config import Settings
from contimg.db.engine import Database
from contimg.errors import ContimgError

app = typer.Typer(
    help="Turn subband files (YYYY-MM-DDTHH:MM:SS_sbNN.hdf5) into queued groups.",
    no_args_is_help=True,
)


def open_ingest_db(cfg: Settings) -> Database:
    """The ingest database, refusing one that is missing or not at the newest schema."""
    from contimg.db import migrations
    from contimg.db.engine import open_database

    db = open_database(cfg, "ingest")
    st = migrations.status(db)
    if not st.exists or st.current is None:
        raise ContimgError(f"no ingest database at {db.location}; run 'contimg db init' first")
    if st.pending:
        raise ContimgError(
            f"the ingest database {db.location} is at {st.current}, not {st.head}; "
            "run 'contimg db upgrade'"
        )
    return db


def _load_hooks(cfg: Settings) -> None:
    """Install the built-in calibrator matcher, then the configured one (if any)."""
    from contimg.ingest import hooks

    hooks.install_builtin_matcher()
    if cfg.ingest.calibrator_matcher:
        hooks.load_calibrator_matcher(cfg.ingest.calibrator_matcher)


@app.command()
def scan(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Argument(help="Directory to scan (default: the incoming dir).", show_default=False),
    ] = None,
    finalize: Annotated[
        bool,
        typer.Option(
            help="Resolve groups still incomplete after the pass at once (by the "
            "incomplete-group policy) instead of waiting for the timeout.",
        ),
    ] = False,
) -> None:
    """One pass over DIRECTORY, for backfills: check each file's size twice (settle_s
    apart), check its UVH5 header, group it. Files already taken are skipped."""
    import logging

    from contimg.ingest.scanner import scan_once

    cfg = settings(ctx)
    target = (directory or cfg.incoming_path).resolve()
    if not target.is_dir():
        raise ContimgError(f"{target} is not a directory")
    db = open_ingest_db(cfg)
    _load_hooks(cfg)
    log = logging.getLogger("contimg.ingest")
    if not log.isEnabledFor(logging.INFO):
        log.setLevel(logging.INFO)  # progress of a long scan is always shown
    try:
        report = scan_once(
            db, cfg, target, finalize=finalize, progress=lambda m: typer.echo(m, err=True)
        )
    finally:
        db.dispose()
    typer.echo(report.summary())


@app.command()
def watch(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Directory to watch (default: the incoming dir).", show_default=False
        ),
    ] = None,
) -> None:
    """Watch the incoming directory (inotify through watchfiles, plus a full rescan every
    rescan_interval_s for events lost on network file systems) until Ctrl-C."""
    import logging
    import signal
    import threading

    from contimg.ingest.scanner import watch as run_watch

    cfg = settings(ctx)
    require_deployment(cfg, command="contimg ingest watch")
    target = (directory or cfg.incoming_path).resolve()
    if not target.is_dir():
        raise ContimgError(f"{target} is not a directory (create it, or pass --dir)")
    db = open_ingest_db(cfg)
    _load_hooks(cfg)
    log = logging.getLogger("contimg.ingest")
    if not log.isEnabledFor(logging.INFO):
        log.setLevel(logging.INFO)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    typer.echo(
        f"watching {target} (rescan every {cfg.ingest.rescan_interval_s:g} s, "
        f"groups within {cfg.ingest.group_tolerance_s:g} s); Ctrl-C to stop",
        err=True,
    )
    try:
        run_watch(db, cfg, target, stop=stop)
    finally:
        db.dispose()
