"""The server process freezes its start-up objects out of the garbage collector.

Without it, each full collection walks every imported module's objects and stalls a
request by ~100 ms (docs/api.md). Checked in a child process: freezing the test
process itself would keep every later test's cyclic garbage alive.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHILD = """
import gc, sys
from pathlib import Path
from fastapi.testclient import TestClient
from contimg.api import create_app
from contimg.config import get_settings

freeze = sys.argv[2] == "1"
app = create_app(get_settings(home=Path(sys.argv[1])), events=False, freeze_gc=freeze)
with TestClient(app) as client:
    assert client.get("/api/v1/health").status_code == 200
    print(gc.get_freeze_count())
"""


def _frozen(home: Path, freeze: bool) -> int:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", CHILD, str(home), "1" if freeze else "0"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(out.stdout.split()[-1])


def test_server_freezes_start_up_objects(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from contimg.cli import app as cli

    assert CliRunner().invoke(cli, ["--home", str(tmp_path), "db", "init"]).exit_code == 0
    assert _frozen(tmp_path, freeze=False) == 0
    assert _frozen(tmp_path, freeze=True) > 10_000
