"""``contimg demo``, shortened and headless, on PostgreSQL with three workers.

The run is the session fixture ``demo_run`` (tests/demo_run.py; shared with the
browser tests of tests/ui/test_real_run.py, so it runs once): three sidereal days of
a short schedule, started with a relative ``--home``, interrupted by Ctrl-C, resumed.
Checked here through the HTTP API with the printed token:

* groups complete with images; then Ctrl-C (SIGINT) while the other groups are
  being processed stops every process, and no group is left held or counted as a
  failed attempt (those in progress go back to the queue);
* the same command resumes: the injected ESE source gets a light curve of several
  epochs, a mosaic is built, the injected source becomes an ESE candidate under the
  pipeline's own (unchanged) rules, and the whole stream completes;
* every path the run stored is absolute although its home was given relative;
* scale-out: the three workers share the PostgreSQL queue, and every group of the
  stream is completed exactly once.

Skipped without PostgreSQL (``CONTIMG_TEST_PG_URL``) unless ``CONTIMG_REQUIRE_PG=1``.
"""

from __future__ import annotations

import re
from collections import Counter

import httpx
import pytest
import sqlalchemy as sa

from contimg.config import get_settings
from contimg.db.engine import Databases
from contimg.db.products import images, mosaics, ms_index, photometry
from tests.demo_run import N_GROUPS, SCIENCE_GROUPS, WORKERS, DemoRun, processes_using

pytestmark = [pytest.mark.slow, pytest.mark.tools, pytest.mark.postgres, pytest.mark.timeout(3000)]


def test_shortened_demo(demo_run: DemoRun) -> None:
    run, demo = demo_run, demo_run.demo
    manifest = run.manifest
    ese_id = manifest["injected_ese"]["source_id"]
    assert len(manifest["groups"]) == N_GROUPS
    # Reads need the token here (api.require_token_for_reads): the printed one works.
    assert run.phase1["anonymous_status"] == 401

    # Ctrl-C stopped every process; no group is left held or counted as failed, and
    # the groups the workers were processing went back to the queue.
    p1 = run.phase1
    assert p1["processes"] == []
    assert "stopped; run the same command again to resume" in p1["output"]
    rows = p1["rows"]
    assert {r["state"] for r in rows} <= {"completed", "pending", "collecting"}, rows
    assert all(r["retry_count"] == 0 and r["lease_owner"] is None for r in rows), rows
    assert sum(r["state"] == "completed" for r in rows) < N_GROUPS, "nothing left to resume"
    assert "returned to the queue" in p1["worker_logs"], "no group was in progress at Ctrl-C"

    # The resumed run: the rest of what the dashboard should show.
    mosaic = demo.get("/mosaics")["data"][0]
    thumb = demo.api.get(f"/mosaics/{mosaic['id']}/thumbnail.png")
    assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")
    groups = demo.get("/groups", limit=100)["data"]
    assert len(groups) == N_GROUPS
    assert {g["group_id"] for g in groups} == {g["group_id"] for g in manifest["groups"]}
    assert all(g["state"] == "completed" and g["retry_count"] == 0 for g in groups), groups
    assert demo.get("/images", type="pbcor")["count"] == N_GROUPS
    assert demo.get("/performance/metrics")["count"] == N_GROUPS

    # The light curve: steady on days 1-2, the dip from day 3 (truth: -45 %).
    points = demo.get(f"/sources/{ese_id}/lightcurve")["points"]
    dip = manifest["injected_ese"]["dip_starts_mjd"]
    good = [p for p in points if not p["flags"] & 16]  # normalised
    before = [p["flux_mjy"] for p in good if p["mjd"] < dip]
    during = [p["flux_mjy"] for p in good if p["mjd"] > dip]
    assert len(points) >= 2 * SCIENCE_GROUPS + 2 and before and during, points
    assert max(during) < 0.75 * min(before), points

    candidates = demo.get("/candidates", source_id=ese_id)
    automatic = sum(
        demo.get("/candidates", source_id=ese_id, flag_type=flag)["count"]
        for flag in ("variability", "rapid_change")
    )
    assert automatic == candidates["count"] >= 1
    first = candidates["data"][0]
    assert first["status"] == "active" and first["max_sigma_dev"] > 0
    # The printed token is the write token: a triage note is accepted with it only.
    note = {"note": "seen in the demo test", "author": "test"}
    path = f"/candidates/{first['id']}/notes"
    assert demo.api.post(path, json=note).status_code in (200, 201)
    anonymous = httpx.post(f"http://127.0.0.1:{demo.port}/api/v1{path}", json=note)
    assert anonymous.status_code == 401

    # Every stored path is absolute and names an existing file or directory, though
    # the run was started with a relative --home (issue 19).
    dbs = Databases(get_settings(home=run.home, database_url=run.pg_url))
    try:
        with dbs.products.read() as conn:
            stored = [
                *conn.execute(sa.select(ms_index.c.path)).scalars(),
                *conn.execute(sa.select(images.c.path, images.c.ms_path)).all(),
                *conn.execute(sa.select(photometry.c.image_path).distinct()).scalars(),
                *conn.execute(sa.select(mosaics.c.path, mosaics.c.thumbnail_path)).all(),
            ]
        rows = [(item,) if isinstance(item, str) else tuple(item) for item in stored]
        flat = [p for row in rows for p in row if p]
        assert flat and all(p.startswith(str(run.home) + "/") for p in flat), flat[:5]
        with dbs.ingest.read() as conn:
            files = list(conn.execute(sa.text("SELECT file_path FROM subband_files")).scalars())
        assert files and all(f.startswith(str(run.home) + "/") for f in files), files[:3]
    finally:
        dbs.dispose()

    demo.ctrl_c()
    assert processes_using(run.home, demo.home_arg) == []

    # Scale-out: three workers shared the work; every group was completed exactly once.
    completions: Counter[str] = Counter()
    by_worker: Counter[str] = Counter()
    for i in range(1, WORKERS + 1):
        for line in (run.home / "logs" / f"worker-{i}.log").read_text().splitlines():
            m = re.search(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d): completed in ", line)
            if m:
                completions[m.group(1)] += 1
                by_worker[f"worker-{i}"] += 1
    assert completions == Counter({g["group_id"]: 1 for g in manifest["groups"]}), completions
    assert len(by_worker) >= 2, by_worker
