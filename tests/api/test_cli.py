"""``contimg openapi`` writes the schema without a server; ``contimg serve --help``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "contimg", "--home", str(cwd / "home"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_openapi_command_writes_the_schema(tmp_path: Path) -> None:
    out = tmp_path / "schema" / "openapi.json"
    r = _run("openapi", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    schema = json.loads(out.read_text())
    assert "/api/v1/status" in schema["paths"] and "/api/v1/events" in schema["paths"]
    # Nothing was created: no databases, no token file.
    assert not (tmp_path / "home").exists()
    stdout = _run("openapi", cwd=tmp_path)
    assert json.loads(stdout.stdout)["openapi"].startswith("3.")


def test_serve_help(tmp_path: Path) -> None:
    r = _run("serve", "--help", cwd=tmp_path)
    assert r.returncode == 0
    assert "--host" in r.stdout and "--port" in r.stdout and "token" in r.stdout
