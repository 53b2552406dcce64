"""``contimg db``: create, inspect, upgrade and roll back the four databases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from contimg.cli.common import settings
from contimg.config import DATABASE_NAMES, Settings
from contimg.db import migrations
from contimg.db.engine import Database, open_database
from contimg.errors import ContimgError

app = typer.Typer(
    help="Create, inspect, upgrade and roll back the four databases.", no_args_is_help=True
)

DbOption = Annotated[
    list[str] | None,
    typer.Option(
        "--db",
        help=f"Only this database (repeatable): {', '.join(DATABASE_NAMES)}. Default: all four.",
        show_default=False,
    ),
]


def _selected(names: list[str] | None) -> list[str]:
    if not names:
        return list(DATABASE_NAMES)
    unknown = [n for n in names if n not in DATABASE_NAMES]
    if unknown:
        raise ContimgError(
            f"unknown database {', '.join(unknown)}; choose from {', '.join(DATABASE_NAMES)}"
        )
    return [n for n in DATABASE_NAMES if n in names]


def _open(cfg: Settings, name: str) -> Database:
    return open_database(cfg, name, create_dirs=True)


def _make_dirs(cfg: Settings) -> None:
    for path in (cfg.state_path, cfg.incoming_path, cfg.products_path):
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ContimgError(
                f"cannot create directory {path}: {exc.strerror}; choose a writable location "
                "with --home / --state-dir / --incoming-dir / --products-dir"
            ) from exc


def _report(result: migrations.MigrationResult) -> str:
    parts = [f"{result.name}: "]
    if result.adopted_at:
        parts.append(f"adopted existing schema as {result.adopted_at}; ")
    if result.before == result.after:
        parts.append(f"already at {result.after}")
    else:
        parts.append(f"{result.before or 'empty'} -> {result.after or 'base'}")
    parts += [f"\n  note: {n}" for n in result.notes]
    return "".join(parts)


@app.command()
def init(ctx: typer.Context, db: DbOption = None) -> None:
    """Create the state, incoming and products directories and every database at the
    newest schema. Safe to run again: existing databases are only upgraded."""
    cfg = settings(ctx)
    _make_dirs(cfg)
    for name in _selected(db):
        database = _open(cfg, name)
        try:
            typer.echo(
                _report(migrations.upgrade(database, home=cfg.home)) + f"  ({database.location})"
            )
        finally:
            database.dispose()


@app.command()
def status(
    ctx: typer.Context,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Print each database's location, current and head revision and pending migrations.
    Changes nothing."""
    cfg = settings(ctx)
    rows = []
    for name in _selected(db):
        database = open_database(cfg, name)
        try:
            rows.append(migrations.status(database))
        finally:
            database.dispose()
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in rows], indent=2))
        return
    for r in rows:
        typer.echo(f"{r.name}")
        typer.echo(f"  location: {r.location}")
        if not r.exists:
            state = "not created (run 'contimg db init')"
        elif r.unversioned:
            state = "unversioned: 'contimg db upgrade' will check and adopt it"
        else:
            state = r.current or "empty"
        typer.echo(f"  current:  {state}")
        typer.echo(f"  head:     {r.head}")
        typer.echo(f"  pending:  {', '.join(r.pending) if r.pending else 'none'}")


@app.command()
def upgrade(
    ctx: typer.Context,
    db: DbOption = None,
    to: Annotated[
        str,
        typer.Option(help="Target revision id (its prefix names the database) or 'head'."),
    ] = "head",
) -> None:
    """Apply pending migrations. A database made from the specification's DDL without
    contimg is recognised, stamped and kept intact; an unrecognised schema is refused."""
    cfg = settings(ctx)
    names = _selected(db)
    if to != "head":
        names = [migrations.database_for_revision(to)]
    for name in names:
        database = _open(cfg, name)
        try:
            result = migrations.upgrade(database, to=to, home=cfg.home)
            typer.echo(_report(result))
            if result.adopted_at and result.after == migrations.head(name):
                _after_adoption(database, cfg)
        finally:
            database.dispose()


def _after_adoption(database: Database, cfg: Settings) -> None:
    """Say what an adopted database still needs (the problems 'db check' would list)."""
    from contimg.db.check import check_database

    for f in check_database(database, cfg, quick=True).findings:
        kind = "needs" if f.problem else "note"
        typer.echo(f"  {kind}: {f.message}\n    fix: {f.fix}")


@app.command()
def downgrade(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            help="Target revision id, or 'base' (drops every table: needs --db and --yes)."
        ),
    ],
    db: DbOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm a downgrade to base.")] = False,
) -> None:
    """Roll a database back to an earlier revision."""
    cfg = settings(ctx)
    if to == "base":
        if not db or len(db) != 1:
            raise ContimgError("downgrade --to base needs exactly one --db NAME")
        if not yes:
            raise ContimgError(
                f"downgrade --to base drops every table of {db[0]} and its rows; "
                "add --yes if that is what you want"
            )
        name = _selected(db)[0]
    else:
        name = migrations.database_for_revision(to)
    database = _open(cfg, name)
    try:
        typer.echo(_report(migrations.downgrade(database, to=to)))
    finally:
        database.dispose()


@app.command()
def backup(
    ctx: typer.Context,
    dest: Annotated[
        Path,
        typer.Argument(
            help="Directory for the copies (state directory layout); existing copies are replaced.",
            file_okay=False,
        ),
    ],
    db: DbOption = None,
) -> None:
    """Copy the SQLite databases while the pipeline runs, with SQLite's online backup
    API: each copy is one consistent snapshot (writers are not stopped), checked with
    PRAGMA integrity_check. For PostgreSQL use pg_dump."""
    from contimg.db.backup import backup_all

    cfg = settings(ctx)
    failed = []
    for r in backup_all(cfg, dest, _selected(db)):
        typer.echo(f"{r.name}: {r.source} -> {r.dest} ({r.bytes / 1e6:.1f} MB, {r.integrity})")
        if r.integrity != "ok":
            failed.append(r.name)
    if failed:
        raise ContimgError(f"integrity check of the copy failed for {', '.join(failed)}")


@app.command()
def check(
    ctx: typer.Context,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Check each database: revision, row counts and every consistency problem found
    (stale cone index, rows breaking the constraints, photometry whose image row is
    missing, rows naming files that do not exist, statistics not built from adopted
    photometry), each with the command that fixes it. Changes nothing; exits 1 when
    there is a problem (notes alone exit 0)."""
    from contimg.db.check import check_database

    cfg = settings(ctx)
    reports = []
    for name in _selected(db):
        database = open_database(cfg, name)
        try:
            reports.append(check_database(database, cfg))
        finally:
            database.dispose()
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in reports], indent=2))
    else:
        for r in reports:
            at = r.revision or "no version record"
            state = "ok" if r.ok else "PROBLEMS"
            typer.echo(f"{r.name}: {state}  ({r.location})")
            typer.echo(f"  revision: {at}" + ("" if r.revision == r.head else f" (head {r.head})"))
            if r.counts:
                typer.echo(
                    "  rows:     " + ", ".join(f"{t} {n:,}" for t, n in sorted(r.counts.items()))
                )
            for f in r.findings:
                typer.echo(f"  {'problem' if f.problem else 'note'}: {f.message}")
                typer.echo(f"    fix: {f.fix}")
    if not all(r.ok for r in reports):
        raise typer.Exit(1)
