"""``contimg queue``: inspect the processing queue and put failed groups back."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from contimg.cli.common import settings
from contimg.cli.ingest import open_ingest_db
from contimg.errors import ContimgError, NotFoundError

if TYPE_CHECKING:
    from contimg.db.queries.ingest import FileLogRow, GroupRow, MetricsRow, SubbandRow

app = typer.Typer(help="Inspect the processing queue; retry failed groups.", no_args_is_help=True)

STATE_HELP = "collecting, pending, in_progress, processing_fresh, completed, failed"


def _when(unix_s: float | None) -> str:
    if unix_s is None:
        return "-"
    return datetime.fromtimestamp(float(unix_s), tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the spec's QueueStats as JSON.")
    ] = False,
) -> None:
    """Counts of groups by state (the spec's QueueStats; in_progress includes processing_fresh)."""
    from contimg.db.queries import ingest as iq

    db = open_ingest_db(settings(ctx))
    try:
        with db.read() as conn:
            counts = iq.count_by_state(conn)
    finally:
        db.dispose()
    stats = {
        "total": sum(counts.values()),
        "pending": counts["pending"],
        "in_progress": counts["in_progress"] + counts["processing_fresh"],
        "completed": counts["completed"],
        "failed": counts["failed"],
        "collecting": counts["collecting"],
    }
    if as_json:
        typer.echo(json.dumps(stats))
        return
    for key, value in stats.items():
        extra = f"  ({counts['processing_fresh']} processing_fresh)" if key == "in_progress" else ""
        typer.echo(f"{key:<12} {value}{extra}")


@app.command(name="list")
def list_(
    ctx: typer.Context,
    state: Annotated[
        str | None,
        typer.Option(help=f"Only groups in this state: {STATE_HELP}.", show_default=False),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, help="At most this many groups (newest first).")
    ] = 50,
) -> None:
    """Groups, newest first: id, state, subbands present, retries, error."""
    from contimg.db.queries import ingest as iq

    if state is not None and state not in iq.STATES:
        raise ContimgError(f"unknown state {state!r}; choose from {STATE_HELP}")
    db = open_ingest_db(settings(ctx))
    try:
        with db.read() as conn:
            rows = iq.list_groups(conn, state=state, limit=limit)
    finally:
        db.dispose()
    if not rows:
        typer.echo("no groups" + (f" in state {state}" if state else ""))
        return
    typer.echo(f"{'group_id':<20} {'state':<17} {'subbands':>8} {'retries':>7}  error")
    for r in rows:
        subs = f"{r.n_subbands}/{r.expected_subbands}"
        err = (r.error_message or "").splitlines()[0][:100] if r.error_message else ""
        typer.echo(f"{r.group_id:<20} {r.state:<17} {subs:>8} {r.retry_count or 0:>7}  {err}")


@app.command()
def show(ctx: typer.Context, group: Annotated[str, typer.Argument(help="The group id.")]) -> None:
    """One group: state, lease, retries, error, subband files with sizes, rejected files,
    stage timings."""
    from contimg.db.queries import ingest as iq

    db = open_ingest_db(settings(ctx))
    try:
        with db.read() as conn:
            row = iq.group_row(conn, group_id=group)
            if row is None:
                raise NotFoundError(f"no group {group!r} in the queue ('contimg queue list')")
            subs = iq.subbands(conn, group_id=group)
            rejected = iq.rejected_files(conn, group_id=group)
            metrics = iq.metrics_row(conn, group_id=group)
    finally:
        db.dispose()
    _print_group(row, subs, rejected, metrics)


def _print_group(
    row: GroupRow,
    subs: list[SubbandRow],
    rejected: list[FileLogRow],
    metrics: MetricsRow | None,
) -> None:
    from contimg.db.queries.ingest import STAGE_COLUMNS

    echo = typer.echo
    echo(f"group        {row.group_id}")
    echo(f"state        {row.state}")
    echo(f"received     {_when(row.received_at)} UTC")
    echo(f"last update  {_when(row.last_update)} UTC")
    echo(f"subbands     {len(subs)} of {row.expected_subbands}")
    echo(f"retries      {row.retry_count or 0}")
    if row.has_calibrator is not None:
        echo(f"calibrators  {row.calibrators}")
    if row.lease_owner:
        left = float(row.lease_expires_at or 0) - time.time()
        echo(f"worker       {row.lease_owner} (lease {left:+.0f} s)")
    if row.next_attempt_at:
        echo(f"next try     {_when(row.next_attempt_at)} UTC")
    if row.error_message:
        echo(f"error        {row.error_message}")
    echo("files:")
    for s in subs:
        size = s.file_size
        echo(f"  sb{s.subband_idx:02d}  {'?' if size is None else size:>12} B  {s.file_path}")
    for r in rejected:
        echo(f"  sb{r.subband_idx:02d}  REJECTED  {r.file_path}: {r.reason}")
    if metrics:
        echo("timings (s):")
        for col in (*STAGE_COLUMNS, "total_time"):
            value = metrics.seconds(col)
            echo(f"  {col:<16} {'-' if value is None else f'{value:.2f}'}")
        echo(f"  writer_type      {metrics.writer_type or '-'}")


@app.command()
def retry(
    ctx: typer.Context,
    group: Annotated[
        str | None, typer.Argument(help="The failed group to retry.", show_default=False)
    ] = None,
    all_failed: Annotated[
        bool, typer.Option("--all-failed", help="Retry every failed group.")
    ] = False,
) -> None:
    """Put a failed group (or all of them) back to pending with a fresh retry budget.
    Rejected files are checked again first; the group goes on with the subbands it has."""
    from contimg.db.queries import ingest as iq
    from contimg.ingest.queue import retry_group

    if (group is None) == (not all_failed):
        raise ContimgError("give either a GROUP or --all-failed (not both)")
    db = open_ingest_db(settings(ctx))
    try:
        if all_failed:
            with db.read() as conn:
                groups = iq.failed_groups(conn)
            if not groups:
                typer.echo("no failed groups")
            for g in groups:
                typer.echo(retry_group(db, group_id=g, now=time.time()).summary)
        else:
            assert group is not None
            typer.echo(retry_group(db, group_id=group, now=time.time()).summary)
    finally:
        db.dispose()
