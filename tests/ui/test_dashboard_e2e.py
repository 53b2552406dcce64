"""The dashboard end to end: Playwright (frontend/e2e/) in headless Debian chromium
against ``contimg serve`` on a freshly seeded simulated deployment.

The Playwright suite starts the server itself (``tests/ui/serve_seeded.py``), opens
every page, changes a candidate's status and checks it through the API, checks that
a light curve draws one point per epoch, checks live updates within 5 s, and saves
a screenshot of each page under ``test-output/ui/screenshots/``. This test builds
the web app first, so it always tests the current source.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from contimg.config import get_settings
from contimg.db.engine import Databases
from contimg.db.products import ese_candidates

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "frontend"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_dashboard_end_to_end() -> None:
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npx (Node.js 20) is needed for the dashboard tests: install Node.js")
    if not (FRONTEND / "node_modules" / "@playwright" / "test").is_dir():
        pytest.fail("frontend/node_modules is missing: run 'make frontend' first")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run 'make deps' (Debian package chromium)")
    build = subprocess.run(
        [npx, "vite", "build"], cwd=FRONTEND, capture_output=True, text=True, check=False
    )
    assert build.returncode == 0, f"vite build failed:\n{build.stdout}\n{build.stderr}"
    run = subprocess.run(
        [npx, "playwright", "test"], cwd=FRONTEND, capture_output=True, text=True, check=False
    )
    report = run.stdout[-20000:] + run.stderr[-5000:]
    assert run.returncode == 0, f"Playwright end-to-end tests failed:\n{report}"
    # The browser's triage (frontend/e2e: "investigated" clicked on a source row) is
    # stored as the same word the API returned and the CLI shows (issue 20).
    home = REPO / "test-output" / "ui" / "home"
    ids = json.loads((home / "triaged.json").read_text())
    dbs = Databases(get_settings(home=home))
    try:
        with dbs.products.read() as conn:
            stored = conn.execute(
                sa.select(ese_candidates.c.status).where(ese_candidates.c.id.in_(ids))
            ).scalars()
            assert set(stored) == {"investigated"}, ids
    finally:
        dbs.dispose()
    shots = sorted((REPO / "test-output" / "ui" / "screenshots").glob("*.png"))
    assert len(shots) >= 12, f"expected a screenshot per page, found {[s.name for s in shots]}"
