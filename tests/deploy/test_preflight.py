"""Service commands fail fast, with the setting to fix, when the state directory is
missing or PostgreSQL cannot be reached; nothing is created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CONTIMG = str(Path(sys.executable).parent / "contimg")
SERVICES = [
    ["worker", "--drain"],
    ["ingest", "watch"],
    ["mosaic", "schedule", "--once"],
    ["serve", "--port", "18999"],
]
UNREACHABLE = "postgresql+psycopg://contimg@127.0.0.1:1/contimg"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTIMG_")}
    return subprocess.run([CONTIMG, *args], capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("command", SERVICES, ids=lambda c: " ".join(c[:2]))
def test_missing_state_dir_fails_fast(tmp_path: Path, command: list[str]) -> None:
    home = tmp_path / "no-such-home"
    proc = _run("--home", str(home), *command)
    assert proc.returncode == 1, proc.stderr
    assert f"the state directory {home / 'state'} does not exist" in proc.stderr
    assert "CONTIMG_HOME" in proc.stderr and "Traceback" not in proc.stderr
    assert not home.exists()


@pytest.mark.parametrize("command", SERVICES, ids=lambda c: " ".join(c[:2]))
def test_unreachable_postgres_fails_fast(tmp_path: Path, command: list[str]) -> None:
    home = tmp_path / "home"
    proc = _run("--home", str(home), "--database-url", UNREACHABLE, *command)
    assert proc.returncode == 1, proc.stderr
    assert "cannot reach the PostgreSQL database" in proc.stderr
    assert "127.0.0.1:1/contimg" in proc.stderr and "CONTIMG_DATABASE_URL" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not home.exists()
