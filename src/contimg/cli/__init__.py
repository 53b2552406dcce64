"""The ``contimg`` command: a thin layer that parses options, builds Settings and
calls the library. Each command group lives in its own module here."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from contimg import __version__
from contimg.cli import cal as cal_cli
from contimg.cli import catalog as catalog_cli
from contimg.cli import db as db_cli
from contimg.cli import demo as demo_cli
from contimg.cli import ese as ese_cli
from contimg.cli import ingest as ingest_cli
from contimg.cli import mosaic as mosaic_cli
from contimg.cli import photometry as photometry_cli
from contimg.cli import queue as queue_cli
from contimg.cli import reprocess as reprocess_cli
from contimg.cli import serve as serve_cli
from contimg.cli import sim as sim_cli
from contimg.cli import variability as variability_cli
from contimg.cli import worker as worker_cli
from contimg.cli.common import CliState, validation_message
from contimg.config import get_settings
from contimg.errors import ContimgError

app = typer.Typer(
    name="contimg",
    help=(
        "DSA-110 continuum imaging pipeline and live dashboard.\n\n"
        "Directory and database options go before the command, e.g. "
        "'contimg --home /data/dsa110-contimg db status'. Every option also reads "
        "its CONTIMG_* environment variable."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(db_cli.app, name="db")
app.add_typer(sim_cli.app, name="sim")
app.add_typer(catalog_cli.app, name="catalog")
app.add_typer(ingest_cli.app, name="ingest")
app.add_typer(queue_cli.app, name="queue")
app.add_typer(cal_cli.app, name="cal")
app.add_typer(mosaic_cli.app, name="mosaic")
app.add_typer(photometry_cli.app, name="photometry")
app.add_typer(variability_cli.app, name="variability")
app.add_typer(ese_cli.app, name="ese")
app.command(name="worker")(worker_cli.worker)
app.command(name="serve")(serve_cli.serve)
app.command(name="openapi")(serve_cli.openapi)
app.command(name="demo")(demo_cli.demo)
app.command(name="reprocess")(reprocess_cli.reprocess)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"contimg {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            help="Root of all data (CONTIMG_HOME, default ./contimg-data).", show_default=False
        ),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(help="Databases (CONTIMG_STATE_DIR, default HOME/state).", show_default=False),
    ] = None,
    incoming_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where UVH5 files land (CONTIMG_INCOMING_DIR, default HOME/incoming).",
            show_default=False,
        ),
    ] = None,
    products_dir: Annotated[
        Path | None,
        typer.Option(
            help="Measurement Sets, images, mosaics (CONTIMG_PRODUCTS_DIR, default HOME/products).",
            show_default=False,
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL URL; the four databases become four schemas of it "
            "(CONTIMG_DATABASE_URL, default: SQLite files in the state dir).",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output.")
    ] = 0,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Build the settings every subcommand uses."""
    logging.basicConfig(
        level=logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        built = get_settings(
            home=home,
            state_dir=state_dir,
            incoming_dir=incoming_dir,
            products_dir=products_dir,
            database_url=database_url,
        )
    except ValidationError as exc:
        raise ContimgError(f"invalid setting: {validation_message(exc)}") from None
    ctx.obj = CliState(settings=built)


def main() -> None:
    """Entry point: run the app and turn contimg errors into one-line messages."""
    from sqlalchemy.exc import OperationalError

    try:
        app()
    except ContimgError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise SystemExit(1) from None
    except OperationalError as exc:  # a database that went away mid-command
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        typer.secho(f"error: database unavailable: {first}", fg=typer.colors.RED, err=True)
        raise SystemExit(1) from None
