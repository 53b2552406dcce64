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
