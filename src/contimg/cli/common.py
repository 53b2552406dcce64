"""What every command group shares: the settings object on the typer context."""

from __future__ import annotations

from dataclasses import dataclass

import typer
from pydantic import ValidationError

from contimg.config import Settings
from contimg.errors import ContimgError


@dataclass
class CliState:
    settings: Settings


def settings(ctx: typer.Context) -> Settings:
    """The Settings built by the root callback."""
    state = ctx.find_root().obj
    if not isinstance(state, CliState):
        raise ContimgError("internal: settings were not initialised")
    return state.settings


def validation_message(exc: ValidationError) -> str:
    """One line per wrong setting, naming the field and the value."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']} (got {err.get('input')!r})"
        for err in exc.errors()
    )


def require_deployment(cfg: Settings, *, command: str) -> None:
    """Fail fast, before a service starts its loop, when what it needs is missing: the
    state directory (SQLite) or a reachable PostgreSQL server. The message names the
    setting to fix, so a systemd unit with a wrong environment file says why it stops."""
    if cfg.backend == "sqlite":
        if not cfg.state_path.is_dir():
            raise ContimgError(
                f"{command}: the state directory {cfg.state_path} does not exist "
                f"(CONTIMG_HOME={cfg.home}, CONTIMG_STATE_DIR={cfg.state_dir}); create the "
                f"deployment with 'contimg --home {cfg.home} db init', or fix the environment "
                "file (/etc/contimg/contimg.env)"
            )
        return
    from contimg.db.engine import check_postgres

    check_postgres(cfg, command=command)
