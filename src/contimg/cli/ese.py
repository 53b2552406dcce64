"""``contimg ese``: list, inspect, flag and triage ESE candidates."""

from __future__ import annotations

import getpass
import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from contimg.cli.common import settings
from contimg.cli.variability import open_products

app = typer.Typer(
    help="Extreme-scattering-event candidates: list, show, flag by hand, triage.",
    no_args_is_help=True,
)

STATUS_HELP = (
    "active | investigated | dismissed (the spec's 'resolved' / 'false_positive' are accepted)"
)


def _when(unix_s: float | None) -> str:
    if unix_s is None:
        return "-"
    return datetime.fromtimestamp(unix_s, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _fmt(v: Any) -> str:
    return f"{v:.2f}" if isinstance(v, float) else ("-" if v is None else str(v))


def reason_lines(reason_json: str | None) -> list[str]:
    """Why an automatic candidate was flagged, as text lines (empty for none)."""
    if not reason_json:
        return []
    from contimg.models import CandidateReason

    try:
        r = CandidateReason.model_validate_json(reason_json)
    except ValueError:
        return [f"(unreadable reason: {reason_json[:80]})"]
    what = "sigma_deviation" if r.rule == "variability" else "|Vs|"
    lines = [f"rule {r.rule}: {what} {r.significance:.2f} >= threshold {r.threshold:.2f}"]
    if r.base_threshold is not None and r.threshold > r.base_threshold + 1e-9:
        counted = max(r.n_obs or 0, r.trials_horizon or 0)
        lines.append(
            f"  (configured {r.base_threshold:.2f}, raised for {counted} measurements"
            + (f": {r.n_obs} so far, counted as the horizon's {r.trials_horizon}"
               if r.trials_horizon and r.trials_horizon > (r.n_obs or 0) else "")
            + f", at a chance of {_fmt_sig(r.false_alarm)} per light curve)"
        )  # fmt: skip
    if r.rule == "variability":
        lines.append(
            f"  chi2_nu {_fmt(r.chi2_nu)} >= {_fmt(r.chi2_threshold)}, {r.n_obs} good "
            f"measurements, weighted mean {_fmt(r.mean_flux_mjy)} mJy"
        )
        devs = r.deviations_sigma or []
        for k, mjd in enumerate(r.epochs_mjd):
            dev = f" ({devs[k]:+.1f} sigma)" if k < len(devs) else ""
            lines.append(f"  MJD {mjd:.4f}{dev}")
    else:
        lines.append(f"  |m| {_fmt(r.m)} >= {_fmt(r.m_threshold)}")
        if len(r.epochs_mjd) == 2 and r.fluxes_mjy and len(r.fluxes_mjy) == 2:
            lines.append(
                f"  MJD {r.epochs_mjd[0]:.4f} -> {r.epochs_mjd[1]:.4f}: "
                f"{r.fluxes_mjy[0]:.2f} -> {r.fluxes_mjy[1]:.2f} mJy"
            )
    return lines


def _fmt_sig(v: float | None) -> str:
    return "-" if v is None else f"{v:.2g}"


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help=f"Only this status: {STATUS_HELP}.")] = None,
    source: Annotated[str | None, typer.Option(help="Only this source id.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Candidates, newest first."""
    from contimg.db.queries import ese as eq
    from contimg.science.ese import STATUSES, normalise_status

    if status is not None:
        status = normalise_status(status)
        if status not in STATUSES:
            raise typer.BadParameter(f"unknown status {status!r}; {STATUS_HELP}")
    dbs = open_products(settings(ctx))
    try:
        with dbs.products.read() as conn:
            rows = eq.list_candidates(conn, status=status, source_id=source, limit=limit)
    finally:
        dbs.dispose()
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in rows], indent=1, default=str))
        return
    if not rows:
        typer.echo("no candidates")
        return
    typer.echo(
        f"{'id':>5}  {'source':<28} {'type':<13} {'status':<13} {'signif':>7}  flagged (UTC)"
    )
    for r in rows:
        typer.echo(
            f"{r.id:>5}  {r.source_id:<28} {r.flag_type:<13} {r.status:<13} "
            f"{r.significance:>7.2f}  {_when(r.flagged_at)}"
        )


@app.command()
def show(
    ctx: typer.Context,
    candidate_id: Annotated[int, typer.Argument(metavar="ID", help="Candidate id.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """One candidate: why it was flagged, its notes and the source's statistics."""
    from contimg.db.queries import ese as eq
    from contimg.db.queries import variability as vq
    from contimg.errors import NotFoundError

    dbs = open_products(settings(ctx))
    try:
        with dbs.products.read() as conn:
            row = eq.get_candidate(conn, candidate_id=candidate_id)
            if row is None:
                raise NotFoundError(f"ESE candidate {candidate_id} does not exist")
            stats = vq.get_stats(conn, source_id=row.source_id)
    finally:
        dbs.dispose()
    if as_json:
        out = {"candidate": asdict(row), "stats": asdict(stats) if stats is not None else None}
        typer.echo(json.dumps(out, indent=1, default=str))
        return
    for key in ("id", "source_id", "flag_type", "status", "significance", "flagged_by"):
        typer.echo(f"{key:>16}: {_fmt(getattr(row, key))}")
    for key in ("flagged_at", "investigated_at", "dismissed_at"):
        typer.echo(f"{key:>16}: {_when(getattr(row, key))}")
    if stats:
        for key in ("n_obs", "mean_flux_mjy", "std_flux_mjy", "chi2_nu", "sigma_deviation"):
            typer.echo(f"{key:>16}: {_fmt(getattr(stats, key))}")
    why = reason_lines(row.reason)
    if why:
        typer.echo("why flagged:")
        for line in why:
            typer.echo(f"  {line}")
    typer.echo("notes:")
    typer.echo(row.notes or "  (none)")


@app.command()
def flag(
    ctx: typer.Context,
    source_id: Annotated[str, typer.Argument(metavar="SOURCE", help="Source id (NVSS name).")],
    note: Annotated[str, typer.Option("--note", help="Why you flag it.")],
    by: Annotated[str | None, typer.Option(help="Your id (default: login name).")] = None,
) -> None:
    """Flag SOURCE by hand (a 'user' candidate); a second flag appends to its notes."""
    from contimg.variability.candidates import user_flag

    dbs = open_products(settings(ctx))
    try:
        cid = user_flag(dbs, source_id=source_id, note=note, author=by or _user())
    finally:
        dbs.dispose()
    typer.echo(f"candidate {cid}: {source_id} flagged")


@app.command()
def status(
    ctx: typer.Context,
    candidate_id: Annotated[int, typer.Argument(metavar="ID", help="Candidate id.")],
    new_status: Annotated[str, typer.Argument(metavar="STATUS", help=STATUS_HELP)],
    note: Annotated[str, typer.Option("--note", help="Why (appended to the notes).")],
    by: Annotated[str | None, typer.Option(help="Your id (default: login name).")] = None,
) -> None:
    """Move candidate ID to STATUS (active -> investigated -> dismissed, or back)."""
    from contimg.variability.candidates import set_candidate_status

    dbs = open_products(settings(ctx))
    try:
        row = set_candidate_status(
            dbs, candidate_id=candidate_id, status=new_status, note=note, author=by or _user()
        )
    finally:
        dbs.dispose()
    typer.echo(f"candidate {candidate_id}: now {row.status}")
