"""``contimg demo``: the live pipeline on a simulated sky, with the dashboard."""

from __future__ import annotations

from typing import Annotated

import typer

from contimg.cli.common import settings


def demo(
    ctx: typer.Context,
    days: Annotated[
        int,
        typer.Option(
            min=1,
            help="Sidereal days to simulate: each day the calibrator's transit and the same "
            "science strip (the injected ESE source dips from day 3).",
        ),
    ] = 6,
    science_groups: Annotated[
        int, typer.Option(min=1, max=12, help="Science groups per day (309 s of sky each).")
    ] = 3,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Worker processes.")] = 2,
    pace: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds between simulated groups (DSA-110's own pace is 309; a ci group takes "
            "about 40 s to process on 2 cores, a calibrator group about 80 s).",
        ),
    ] = 30.0,
    preset: Annotated[
        str, typer.Option(help="Simulation size: ci (24 antennas), demo (48) or full.")
    ] = "ci",
    dec: Annotated[float, typer.Option(help="Pointing declination, degrees.")] = 49.85,
    calibrator: Annotated[
        str, typer.Option(help="Calibrator transiting in each day's first group.")
    ] = "3C147",
    seed: Annotated[int, typer.Option(help="Random seed of the simulated sky and noise.")] = 110,
    host: Annotated[str, typer.Option(help="Dashboard address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Dashboard port.")] = 8000,
    mosaic_groups: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Groups per automatic mosaic window, from the science strip's LST "
            "[default: --science-groups, one mosaic per day's strip].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the whole live pipeline on a simulated DSA-110 sky on this machine.

    Simulates survey catalogs (with one injected ESE source) and builds the master
    catalog (once), then runs the simulator streaming groups into the incoming
    directory (every day a calibrator transit, then the same science strip), the
    ingest watcher, the workers, the mosaic scheduler and the dashboard. Prints the
    dashboard URL and the write token. Ctrl-C stops everything; the same command
    resumes. Choose the database with the root --database-url option. See docs/demo.md.
    """
    from contimg.demo import DemoOptions, run_demo

    opts = DemoOptions(
        days=days, science_groups=science_groups, workers=workers, pace_s=pace, preset=preset,
        dec_deg=dec, calibrator=calibrator, seed=seed, host=host, port=port,
        mosaic_groups=mosaic_groups,
    )  # fmt: skip
    run_demo(settings(ctx), opts, echo=typer.echo)
