"""``contimg cal``: the calibration registry (sets of K/BP/G tables) and solving transits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from contimg.cli.common import settings
from contimg.errors import ContimgError, NotFoundError

app = typer.Typer(
    help="Calibration sets: list, which set applies at a time, solve a transit, (de)activate.",
    no_args_is_help=True,
)


@app.command(name="list")
def list_(
    ctx: typer.Context,
    active_only: Annotated[bool, typer.Option("--active", help="Only active sets.")] = False,
) -> None:
    """Every calibration set with its tables, validity windows and state."""
    from contimg.db.engine import Databases
    from contimg.db.queries import calibration as cq

    dbs = Databases(settings(ctx))
    try:
        with dbs.cal_registry.read() as conn:
            rows = cq.all_rows(conn, active_only=active_only)
    finally:
        dbs.dispose()
    if not rows:
        typer.echo("no calibration sets")
        return
    current = None
    for r in rows:
        if r.set_name != current:
            current = r.set_name
            state = "active" if r.active else "inactive"
            typer.echo(f"{current}  ({state})")
        typer.echo(
            f"  {r.order_index} {r.table_type:<2} MJD {r.valid_start_mjd:.4f} .. "
            f"{r.valid_end_mjd:.4f}  {r.path}"
        )


@app.command()
def which(
    ctx: typer.Context,
    mjd: Annotated[float, typer.Option("--mjd", help="Observation time, MJD (UTC).")],
) -> None:
    """The set an observation at MJD T would use (science.md section 6)."""
    from contimg.calibration.lookup import lookup_set
    from contimg.db.engine import Databases

    s = settings(ctx)
    dbs = Databases(s)
    try:
        chosen = lookup_set(dbs, s, mjd=mjd)
    finally:
        dbs.dispose()
    if chosen is None:
        raise NotFoundError(
            f"no active calibration set covers MJD {mjd} or lies within "
            f"{s.calibration.extrapolate_max_h:g} h of it"
        )
    how = (
        f"extrapolated: window midpoint {chosen.distance_h:.2f} h away"
        if chosen.extrapolated
        else "covering"
    )
    typer.echo(f"{chosen.set_name}  ({how})")
    for t in chosen.tables:
        typer.echo(f"  {t.order_index} {t.table_type:<2} {t.path}")


@app.command()
def solve(
    ctx: typer.Context,
    ms: Annotated[Path, typer.Argument(help="A converted Measurement Set (in ms_index).")],
    calibrator: Annotated[
        str | None,
        typer.Option(help="Calibrator name; default: the one transiting during the MS."),
    ] = None,
) -> None:
    """Flag a calibrator group's MS, solve K, BP, G with DP3 and register the set."""
    from contimg.calibration import dp3 as d
    from contimg.calibration.solve import dp3_runner, group_transits, solve_transit
    from contimg.db.engine import Databases
    from contimg.db.queries import products as pq

    s = settings(ctx)
    dbs = Databases(s)
    try:
        with dbs.products.read() as conn:
            row = pq.get_ms(conn, path=str(ms.resolve())) or pq.get_ms(conn, path=str(ms))
        if row is None or not Path(row.path).is_dir():
            raise ContimgError(f"{ms} is not a converted Measurement Set in ms_index")
        if calibrator is None:
            transits = group_transits(s, row)
            if not transits:
                raise ContimgError(
                    f"no calibrator of the list transits during {ms.name}; name one "
                    "with --calibrator"
                )
            calibrator = transits[0].name
        runner = dp3_runner(s, Path(row.path).parent / "logs", typer.echo)
        d.flag(runner, Path(row.path), aoflagger=s.calibration.aoflagger)
        name = solve_transit(s, dbs, runner, ms_row=row, calibrator=calibrator, progress=typer.echo)
    finally:
        dbs.dispose()
    typer.echo(f"registered calibration set {name}")


def _set_active(ctx: typer.Context, set_name: str, active: bool) -> None:
    from contimg.db.engine import Databases
    from contimg.db.queries import calibration as cq

    dbs = Databases(settings(ctx))
    try:
        with dbs.cal_registry.write() as conn:
            n = cq.set_active(conn, set_name=set_name, active=active)
    finally:
        dbs.dispose()
    if n == 0:
        raise NotFoundError(f"no calibration set named {set_name!r} ('contimg cal list')")
    typer.echo(f"{set_name}: {'activated' if active else 'deactivated'} ({n} tables)")


@app.command()
def activate(
    ctx: typer.Context, set_name: Annotated[str, typer.Argument(help="Set name.")]
) -> None:
    """Make a set usable by the lookup again."""
    _set_active(ctx, set_name, True)


@app.command()
def deactivate(
    ctx: typer.Context, set_name: Annotated[str, typer.Argument(help="Set name.")]
) -> None:
    """Stop a set from being used (its tables and rows are kept)."""
    _set_active(ctx, set_name, False)
