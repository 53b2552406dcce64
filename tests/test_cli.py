"""Every command and group has helpful --help."""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from contimg.cli import app


def _walk(cmd: Any, path: list[str]) -> list[list[str]]:
    out = [path]
    if hasattr(cmd, "commands"):
        for name, sub in cmd.commands.items():
            out.extend(_walk(sub, [*path, name]))
    return out


def test_every_command_has_help() -> None:
    root = typer.main.get_command(app)
    paths = _walk(root, [])
    assert ["db", "init"] in paths and ["db", "status"] in paths
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output
        cmd = root
        for name in path:
            cmd = cmd.commands[name]
        assert (cmd.help or "").strip(), f"'contimg {' '.join(path)}' has no help text"
