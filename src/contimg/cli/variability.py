"""``contimg variability``: rebuild the variability statistics from photometry."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from contimg.cli.common import settings
from contimg.errors import ContimgError

if TYPE_CHECKING:
    from contimg.config import Settings
    from contimg.db.engine import Databases

app = typer.Typer(help="Variability statistics of the light curves.", no_args_is_help=True)


def open_products(cfg: Settings) -> Databases:
    """The databases, checking that ``products`` exists and is at head."""
    from contimg.db import migrations
    from contimg.db.engine import Databases

    dbs = Databases(cfg)
    st = migrations.status(dbs.products)
    if not st.exists or st.current is None:
        dbs.dispose()
        raise ContimgError(
            f"no products database at {dbs.products.location}; run 'contimg db init' first"
        )
    if st.pending:
        dbs.dispose()
        raise ContimgError(
            f"the products database {dbs.products.location} is at {st.current}, not {st.head}; "
            "run 'contimg db upgrade'"
        )
    return dbs


@app.command()
def recompute(ctx: typer.Context) -> None:
    """Rebuild every variability_stats row (and its running sums) from photometry.

    Also applies the automatic ESE rules to the rebuilt statistics (existing
    candidates are raised, never duplicated).
    """
    from contimg.variability.update import recompute_variability

    cfg = settings(ctx)
    dbs = open_products(cfg)
    try:
        typer.echo("recomputing variability statistics from photometry ...", err=True)
        n_src, n_cand = recompute_variability(dbs, cfg)
    finally:
        dbs.dispose()
    typer.echo(f"{n_src} sources with statistics; {n_cand} ESE candidates opened or raised")
