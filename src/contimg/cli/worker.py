"""``contimg worker``: claim queued groups and run the pipeline's stages on them."""

from __future__ import annotations

from typing import Annotated

import typer

from contimg.cli.common import require_deployment, settings
from contimg.cli.ingest import open_ingest_db


def worker(
    ctx: typer.Context,
    drain: Annotated[
        bool,
        typer.Option(
            help="Exit once nothing is left to do (no pending group, none held by another worker)."
        ),
    ] = False,
    max_groups: Annotated[
        int | None, typer.Option(min=1, help="Exit after this many groups.", show_default=False)
    ] = None,
    worker_id: Annotated[
        str | None,
        typer.Option(help="Name in leases and logs (default host:pid:random).", show_default=False),
    ] = None,
    stage_module: Annotated[
        list[str] | None,
        typer.Option(
            help="Also import this module, which registers stages (repeatable; "
            "CONTIMG_WORKER__STAGE_MODULES).",
            show_default=False,
        ),
    ] = None,
    builtin_stages: Annotated[
        bool, typer.Option(help="Run the built-in stages (CONTIMG_WORKER__BUILTIN_STAGES).")
    ] = True,
) -> None:
    """Process queued groups: claim the oldest pending group atomically, hold a lease
    (renewed by a heartbeat), run the conversion stages, then the stages on the fresh
    Measurement Set, and mark it completed. Failed groups are retried with exponential
    backoff. SIGTERM / Ctrl-C: interrupt the current group (its tool is stopped), return
    it to the queue without counting an attempt, and exit."""
    import logging

    from contimg.ingest.worker import Worker, load_stages

    cfg = settings(ctx)
    require_deployment(cfg, command="contimg worker")
    if not builtin_stages:
        cfg = cfg.model_copy(
            update={"worker": cfg.worker.model_copy(update={"builtin_stages": False})}
        )
    open_ingest_db(cfg).dispose()
    registry = load_stages(cfg, stage_module)
    log = logging.getLogger("contimg.ingest")
    if not log.isEnabledFor(logging.INFO):
        log.setLevel(logging.INFO)
    w = Worker(cfg, worker_id=worker_id, registry=registry)
    w.install_signal_handlers()
    try:
        stats = w.run(drain=drain, max_groups=max_groups)
    finally:
        w.dbs.dispose()
    typer.echo(
        f"worker {w.worker_id}: {stats.completed} completed, {stats.failed} failed, "
        f"{stats.deferred} deferred, {stats.released} returned unfinished at shutdown, "
        f"{stats.lost} lost, {stats.reaped} expired leases returned",
        err=True,
    )
