"""``contimg serve`` (the dashboard server) and ``contimg openapi`` (its schema)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from contimg.cli.common import require_deployment, settings


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to listen on (CONTIMG_API__HOST, default 127.0.0.1).", show_default=False
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help="Port (CONTIMG_API__PORT, default 8000).", min=1, max=65535, show_default=False
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes. Each runs its own live-events poller (one set of cheap "
            "queries a second, whatever the number of clients).",
            min=1,
            max=64,
        ),
    ] = 1,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="Log every request on standard output (benchmarks turn it off: they "
            "measure the API, not the log).",
        ),
    ] = True,
) -> None:
    """Run the dashboard API (and the built web app) until interrupted.

    Reads are open unless CONTIMG_API__REQUIRE_TOKEN_FOR_READS=1; writes need the
    bearer token CONTIMG_API__WRITE_TOKEN, or the one generated on first run and
    kept in STATE_DIR/api_token (printed when it is created).
    """
    import uvicorn

    from contimg.api import create_app
    from contimg.api.auth import load_or_create_token, token_path

    s = settings(ctx)
    require_deployment(s, command="contimg serve")
    if host is not None or port is not None:
        api = s.api.model_copy(update={"host": host or s.api.host, "port": port or s.api.port})
        s = s.model_copy(update={"api": api})
    token, created = load_or_create_token(s)
    if created:
        typer.echo(f"API write token (saved in {token_path(s)}, mode 0600):\n  {token}", err=True)
    elif not s.api.write_token:
        typer.echo(f"API write token: in {token_path(s)}", err=True)
    typer.echo(
        f"contimg dashboard on http://{s.api.host}:{s.api.port}/ "
        f"(API docs: /api/docs, state: {s.state_path}, backend: {s.backend})",
        err=True,
    )
    if workers == 1:
        uvicorn.run(
            create_app(s, freeze_gc=True),
            host=s.api.host,
            port=s.api.port,
            log_level="info",
            access_log=access_log,
            timeout_graceful_shutdown=3,
        )
        return
    # Worker processes build their own app from the environment: hand them the
    # settings this command resolved (directories, database, token).
    env = {
        "CONTIMG_HOME": str(s.home),
        "CONTIMG_STATE_DIR": str(s.state_path),
        "CONTIMG_INCOMING_DIR": str(s.incoming_path),
        "CONTIMG_PRODUCTS_DIR": str(s.products_path),
        "CONTIMG_API__WRITE_TOKEN": token,
    }
    if s.database_url:
        env["CONTIMG_DATABASE_URL"] = s.database_url
    os.environ.update(env)
    uvicorn.run(
        "contimg.api.app:app_from_environment",
        factory=True,
        workers=workers,
        host=s.api.host,
        port=s.api.port,
        log_level="info",
        access_log=access_log,
        timeout_graceful_shutdown=3,
    )


def openapi(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write to this file (default: standard output).", show_default=False
        ),
    ] = None,
) -> None:
    """Print (or write) the API's OpenAPI schema as JSON, without starting a server.

    The web app's TypeScript client is generated from it.
    """
    from contimg.api import create_app

    app = create_app(settings(ctx), events=False)
    text = json.dumps(app.openapi(), indent=2, sort_keys=False) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        typer.echo(f"wrote {out}", err=True)
