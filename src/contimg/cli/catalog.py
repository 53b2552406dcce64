"""``contimg catalog``: build the master sources catalog, search it, describe it."""

from __future__ import annotations

import csv
import enum
import io
import json
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from contimg.cli.common import settings
from contimg.errors import ContimgError

if TYPE_CHECKING:
    from contimg.catalog.cone import CatalogSource
    from contimg.db.queries.sources import Relation as QueryRelation

app = typer.Typer(
    help=(
        "The master sources catalog (NVSS x FIRST x VLASS): build it from the survey "
        "files, cone-search it, show what it holds. See docs/catalog.md."
    ),
    no_args_is_help=True,
)


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class Relation(enum.StrEnum):
    sources = "sources"
    good = "good"
    final = "final"


_RELATIONS: dict[str, QueryRelation] = {
    "sources": "sources",
    "good": "good_references",
    "final": "final_references",
}


class _Progress:
    """Step lines on stderr; the long write step reports every ~10 %."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.step = ""
        self.last_pct = -1

    def __call__(self, step: str, done: int, total: int) -> None:
        elapsed = time.perf_counter() - self.t0
        if step != self.step:
            self.step, self.last_pct = step, -1
            if total <= 1 or done == 0:
                typer.echo(f"[{elapsed:7.1f} s] {step} ...", err=True)
        if total > 1 and step == "write sources":
            pct = int(100 * done / total)
            if pct // 10 > self.last_pct // 10 or done == total:
                self.last_pct = pct
                typer.echo(f"[{elapsed:7.1f} s] {step}: {done:,}/{total:,} ({pct} %)", err=True)


@app.command()
def build(
    ctx: typer.Context,
    nvss: Annotated[
        Path,
        typer.Option(help="NVSS catalogue (VizieR VIII/65 layout): FITS, CSV or VOTable."),
    ],
    first: Annotated[
        Path | None,
        typer.Option(
            help="FIRST catalogue (VizieR VIII/92, 14dec17). Optional.", show_default=False
        ),
    ] = None,
    vlass: Annotated[
        Path | None,
        typer.Option(
            help="VLASS Epoch 1 QL component catalogue (CIRADA). Optional.", show_default=False
        ),
    ] = None,
    radius_arcsec: Annotated[
        float | None,
        typer.Option(
            help="Match radius for FIRST/VLASS partners (default: the catalog.match_radius_arcsec "
            "setting, 7.5).",
            show_default=False,
        ),
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="Read a field from another column, SURVEY.FIELD=COLUMN (repeatable), "
            "e.g. --map nvss.flux=S1400. Fields: see docs/catalog.md.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Build the catalog from the survey files and swap it in atomically.

    FIRST and VLASS are optional (their columns stay NULL). A failed build leaves
    the previous catalog untouched. The catalog database is created if missing.
    """
    from contimg.catalog.build import BuildInputs, build_catalog, parse_column_overrides

    cfg = settings(ctx)
    inputs = BuildInputs(
        nvss_path=nvss,
        first_path=first,
        vlass_path=vlass,
        columns=parse_column_overrides(column or []),
    )
    report = build_catalog(cfg, inputs, radius_arcsec=radius_arcsec, progress=_Progress())
    c = report.counts
    lines = [
        f"built {report.location} in {report.duration_s:.1f} s",
        f"  NVSS sources        {report.n_nvss:>10,}"
        + (f"  ({report.n_renamed} repeated names suffixed)" if report.n_renamed else ""),
    ]
    if report.n_first is not None:
        lines.append(
            f"  FIRST rows          {report.n_first:>10,}  matched {report.n_first_matched:,}"
        )
    if report.n_vlass is not None:
        lines.append(
            f"  VLASS rows          {report.n_vlass:>10,}  matched {report.n_vlass_matched:,}"
        )
    lines += [
        f"  match radius        {report.radius_arcsec:>10g} arcsec",
        f"  resolved / confused {c['resolved']:>10,} / {c['confused']:,}",
        f"  good_references     {c['good_references']:>10,}",
        f"  final_references    {c['final_references']:>10,}",
    ]
    typer.echo("\n".join(lines))


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def _table(hits: list[CatalogSource]) -> str:
    head = (
        "source_id",
        "ra_deg",
        "dec_deg",
        "S_nvss_mJy",
        "snr",
        "S_vlass_mJy",
        "alpha",
        "R",
        "C",
        "sep_arcmin",
    )
    rows = [
        (
            h.source_id,
            _fmt(h.ra_deg, ".5f"),
            _fmt(h.dec_deg, "+.5f"),
            _fmt(None if h.s_nvss is None else h.s_nvss * 1e3, ".1f"),
            _fmt(h.snr_nvss, ".1f"),
            _fmt(None if h.s_vlass is None else h.s_vlass * 1e3, ".2f"),
            _fmt(h.alpha, "+.2f"),
            _fmt(h.resolved_flag, "d"),
            _fmt(h.confusion_flag, "d"),
            _fmt(h.sep_deg * 60.0, ".3f"),
        )
        for h in hits
    ]
    widths = [
        max(len(head[i]), *(len(r[i]) for r in rows)) if rows else len(head[i])
        for i in range(len(head))
    ]
    out = [
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(head, widths, strict=True))
        )
    ]
    out += [
        "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    out.append(f"({len(hits)} source{'s' if len(hits) != 1 else ''})")
    return "\n".join(out)


def _csv(hits: list[CatalogSource]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    from contimg.db.queries.sources import SOURCE_COLUMNS

    fields = [*SOURCE_COLUMNS, "sep_deg"]
    writer.writerow(fields)
    for h in hits:
        d = h.as_dict()
        writer.writerow(["" if d[f] is None else d[f] for f in fields])
    return buf.getvalue().rstrip("\n")


@app.command(context_settings={"ignore_unknown_options": True})
def cone(
    ctx: typer.Context,
    ra: Annotated[float, typer.Argument(help="Centre right ascension (deg, J2000).")],
    dec: Annotated[
        float, typer.Argument(help="Centre declination (deg, J2000); negative is fine.")
    ],
    radius: Annotated[float, typer.Argument(help="Radius (deg).")],
    min_flux_mjy: Annotated[
        float | None,
        typer.Option(help="Only sources with NVSS flux density >= this (mJy).", show_default=False),
    ] = None,
    references: Annotated[
        Relation,
        typer.Option(
            "--from",
            help="Search all sources, or only the spec's good_references / final_references views.",
        ),
    ] = Relation.sources,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.table,
) -> None:
    """Catalog sources within RADIUS deg of (RA, DEC), nearest first.

    Fluxes in the json/csv output are in Jy as stored (s_nvss, s_vlass); the table
    shows mJy.
    """
    from contimg.catalog.cone import cone_search
    from contimg.db.engine import open_database

    cfg = settings(ctx)
    db = open_database(cfg, "master_sources")
    try:
        _require_catalog(db)
        hits = cone_search(
            db,
            ra_deg=ra,
            dec_deg=dec,
            radius_deg=radius,
            min_flux_mjy=min_flux_mjy,
            relation=_RELATIONS[references.value],
        )
    finally:
        db.dispose()
    if output_format is OutputFormat.json:
        typer.echo(json.dumps([h.as_dict() for h in hits], indent=1))
    elif output_format is OutputFormat.csv:
        typer.echo(_csv(hits))
    else:
        typer.echo(_table(hits))


def _require_catalog(db: Any) -> None:
    from contimg.db import migrations

    st = migrations.status(db)
    if not st.exists or st.current is None:
        raise ContimgError(
            f"no master catalog at {db.location}; build it with "
            "'contimg catalog build --nvss FILE [--first FILE] [--vlass FILE]'"
        )
    if st.current != st.head:
        raise ContimgError(
            f"{db.location} is at {st.current}, not {st.head}; run 'contimg db upgrade'"
        )


@app.command()
def info(
    ctx: typer.Context,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="table or json (csv is not offered).")
    ] = OutputFormat.table,
) -> None:
    """What the catalog holds: source counts, reference counts, how it was built."""
    from contimg.db.engine import open_database
    from contimg.db.queries import sources as q

    cfg = settings(ctx)
    db = open_database(cfg, "master_sources")
    try:
        _require_catalog(db)
        with db.read() as conn:
            counts = q.catalog_counts(conn)
            build_row = q.latest_build(conn)
    finally:
        db.dispose()
    if output_format is OutputFormat.json:
        typer.echo(
            json.dumps(
                {
                    "location": db.location,
                    "counts": counts,
                    "build": asdict(build_row) if build_row is not None else None,
                },
                indent=1,
            )
        )
        return
    lines = [f"catalog: {db.location}"]
    labels = {
        "sources": "sources",
        "with_first": "with FIRST partner",
        "with_vlass": "with VLASS partner",
        "with_alpha": "with spectral index",
        "resolved": "resolved (FIRST)",
        "confused": "confused",
        "good_references": "good_references",
        "final_references": "final_references",
    }
    lines += [f"  {labels[k]:<22}{counts[k]:>12,}" for k in labels]
    if build_row is None:
        lines.append("  built: never by contimg (no build record)")
    else:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(build_row.built_at))
        lines.append(
            f"  built {when} in {build_row.duration_s} s (contimg {build_row.contimg_version})"
        )
        lines.append(f"  match radius {build_row.match_radius_arcsec} arcsec")
        paths = {
            "nvss": build_row.nvss_path,
            "first": build_row.first_path,
            "vlass": build_row.vlass_path,
        }
        for survey, path in paths.items():
            if path:
                lines.append(f"  {survey.upper():<6}{path}")
    typer.echo("\n".join(lines))


@app.command()
def reindex(
    ctx: typer.Context,
    full: Annotated[
        bool, typer.Option("--full", help="Rebuild the whole index even if it looks exact.")
    ] = False,
) -> None:
    """Bring the cone index up to date with the sources table.

    SQLite: folds rows written since the last update into the index, or rebuilds
    it from ``sources`` when it is stale (or with --full), re-creating its
    tracking triggers if they are missing. PostgreSQL: q3c indexes the table
    itself; only checks that the q3c index exists. One transaction.
    """
    from contimg.catalog import index
    from contimg.db.engine import open_database
    from contimg.db.queries import cone_index

    cfg = settings(ctx)
    db = open_database(cfg, "master_sources")
    try:
        _require_catalog(db)
        t0 = time.perf_counter()
        if not db.is_sqlite:
            with db.read() as conn:
                problems = cone_index.pg_problems(conn, schema=db.schema)
            if problems:
                raise ContimgError("; ".join(p.message for p in problems))
            typer.echo(f"{db.location}: q3c indexes sources itself; nothing to do")
            return
        with db.write() as conn:
            done, n = index.reindex(conn, full=full)
    finally:
        db.dispose()
    typer.echo(f"{db.location}: cone index {done} ({n:,} rows) in {time.perf_counter() - t0:.1f} s")
