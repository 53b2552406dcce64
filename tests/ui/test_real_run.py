"""The dashboard on what the real pipeline produced (issue 19).

The databases and files come from the session's one shortened ``contimg demo`` run
(fixture ``demo_run``, tests/demo_run.py: started from one working directory with a
relative ``--home``). Here ``contimg serve`` runs over them from ANOTHER working
directory, and:

* the API serves a cutout of every pipeline image and every mosaic thumbnail (the
  stored paths are absolute, so the working directory does not matter);
* Playwright (frontend/e2e/realrun.spec.ts, Debian chromium) opens every page and
  fails on any 4xx/5xx or failed request in the browser's network log, a skeleton
  that never goes, an image that does not decode or a "file missing"; it saves
  screenshots under test-output/ui/real/ and the README's two under docs/images/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.demo_run import DemoRun, free_port

pytestmark = [pytest.mark.slow, pytest.mark.tools, pytest.mark.postgres, pytest.mark.timeout(3600)]

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "frontend"
CONTIMG = str(Path(sys.executable).parent / "contimg")
TOKEN = "e2e-token"


def test_dashboard_on_the_real_run(demo_run: DemoRun, tmp_path: Path) -> None:
    npx = shutil.which("npx")
    assert npx, "npx (Node.js 20) is needed for the dashboard tests"
    assert (FRONTEND / "node_modules" / "@playwright" / "test").is_dir(), "run 'make frontend'"
    build = subprocess.run(
        [npx, "vite", "build"], cwd=FRONTEND, capture_output=True, text=True, check=False
    )
    assert build.returncode == 0, f"vite build failed:\n{build.stdout}\n{build.stderr}"

    elsewhere = tmp_path / "another-cwd"
    elsewhere.mkdir()
    assert elsewhere.resolve() != demo_run.cwd.resolve()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTIMG_")}
    env.update(CONTIMG_API__WRITE_TOKEN=TOKEN, CONTIMG_API__EVENTS_POLL_S="1")
    argv = [
        CONTIMG, "--home", str(demo_run.home), "--database-url", demo_run.pg_url,
        "serve", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(argv, cwd=elsewhere, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=60.0)
        deadline = time.monotonic() + 120
        while True:
            try:
                if api.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "contimg serve did not start"
            time.sleep(0.5)

        # From another working directory: a cutout of every image, every thumbnail.
        ese = demo_run.manifest["injected_ese"]
        imgs = api.get("/images", params={"limit": 500}).json()["data"]
        assert len(imgs) >= 1
        for im in imgs:
            r = api.get(
                f"/images/{im['id']}/cutout",
                params={"ra_deg": im["center_ra_deg"], "dec_deg": im["center_dec_deg"]},
            )
            assert r.status_code == 200 and r.content.startswith(b"\x89PNG"), (im, r.text)
        for m in api.get("/mosaics").json()["data"]:
            r = api.get(f"/mosaics/{m['id']}/thumbnail.png")
            assert r.status_code == 200 and r.content.startswith(b"\x89PNG"), (m, r.text)

        shots = REPO / "test-output" / "ui" / "real"
        shutil.rmtree(shots, ignore_errors=True)
        pw_env = dict(os.environ)
        pw_env.update(
            E2E_REAL="1", E2E_REUSE="1", E2E_PORT=str(port), E2E_ESE_SOURCE=ese["source_id"]
        )
        run = subprocess.run(
            [npx, "playwright", "test", "e2e/realrun.spec.ts"],
            cwd=FRONTEND, capture_output=True, text=True, check=False, env=pw_env,
        )  # fmt: skip
        report = run.stdout[-20000:] + run.stderr[-5000:]
        assert run.returncode == 0, f"Playwright on the real run failed:\n{report}"
        assert "2 passed" in run.stdout, report
        print(report)
        assert len(sorted(shots.glob("*.png"))) == 11, sorted(shots.glob("*.png"))
        for name in ("dashboard-overview", "dashboard-source"):
            png = REPO / "docs" / "images" / f"{name}.png"
            assert png.stat().st_mtime > time.time() - 3600, f"{png} was not retaken"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
