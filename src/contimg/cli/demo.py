"""``contimg demo``: the live pipeline on a simulated sky, with the dashboard."""

from __future__ import annotations

from typing import Annotated

import typer

from contimg.cli.common import settings


def demo(
    ctx: typer.Context,
    groups: Annotated[
        int, typer.Option(min=2, help="Groups to simulate (309 s of sky each).")
    ] = 24,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Worker processes.")] = 1,
    pace: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds between simulated groups (DSA-110's own pace is 309; a group takes "
            "about 2-3 min to process on 2 cores, so faster paces build a visible backlog).",
        ),
    ] = 180.0,
    preset: Annotated[str, typer.Option(help="Simulation size: ci, demo or full.")] = "demo",
    dec: Annotated[float, typer.Option(help="Pointing declination, degrees.")] = 49.85,
    calibrator: Annotated[
        str, typer.Option(help="Calibrator transiting in the first group.")
    ] = "3C147",
    seed: Annotated[int, typer.Option(help="Random seed of the simulated sky and noise.")] = 110,
    host: Annotated[str, typer.Option(help="Dashboard address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Dashboard port.")] = 8000,
    mosaic_groups: Annotated[
        int, typer.Option(min=1, help="Groups per automatic mosaic window.")
    ] = 4,
) -> None:
    """Run the whole live pipeline on a simulated DSA-110 sky on this machine.

    Simulates survey catalogs and builds the master catalog (once), then runs the
    simulator streaming groups into the incoming directory (a calibrator transit
    first), the ingest watcher, the workers, the mosaic scheduler and the dashboard.
    Prints the dashboard URL and the write token. Ctrl-C stops everything; the same
    command resumes. Choose the database with the root --database-url option.
    """
    from contimg.demo import DemoOptions, run_demo

    opts = DemoOptions(
        groups=groups, workers=workers, pace_s=pace, preset=preset, dec_deg=dec,
        calibrator=calibrator, seed=seed, host=host, port=port, mosaic_groups=mosaic_groups,
    )  # fmt: skip
    run_demo(settings(ctx), opts, echo=typer.echo)
