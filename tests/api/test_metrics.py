"""``GET /metrics`` (Prometheus text format) and the live real-time factor of /status,
on a populated deployment on both backends: parsed with prometheus-client's own
parser, every value equal to what the databases hold."""

from __future__ import annotations

import math
import shutil
import time

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from contimg.api import create_app
from contimg.db import ingest, products
from contimg.db.engine import Databases
from contimg.db.queries.metrics import busy_seconds
from contimg.telescope import DSA110
from tests.api.testclient import TestClient
from tests.factories.api import Deployment


def _scrape(client: TestClient) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{sample name: {sorted labels: value}}."""
    resp = client.get("/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def _count(dbs: Databases, name: str, query: sa.Select) -> list[sa.Row]:  # type: ignore[type-arg]
    with dbs[name].read() as conn:
        return list(conn.execute(query).all())


def test_metrics_equal_the_databases(
    client: TestClient, deployment: Deployment, dbs: Databases
) -> None:
    m = _scrape(client)
    q, pm = ingest.ingest_queue, ingest.performance_metrics
    by_state = dict(
        _count(dbs, "ingest", sa.select(q.c.state, sa.func.count()).group_by(q.c.state))
    )
    assert by_state and sum(by_state.values()) == len(deployment.groups)
    for state in (
        "collecting",
        "pending",
        "in_progress",
        "processing_fresh",
        "completed",
        "failed",
    ):
        assert m["contimg_queue_groups"][(("state", state),)] == by_state.get(state, 0)
    n_pm = _count(dbs, "ingest", sa.select(sa.func.count()).select_from(pm))[0][0]
    assert n_pm > 0
    assert m["contimg_groups_processed_total"][()] == n_pm
    assert m["contimg_groups_failed"][()] == by_state.get("failed", 0)

    # Histograms: count, sum and one bucket of every stage, and of the total.
    for column in ("conversion_time", "imaging_time", "k_solve_time", "total_time"):
        c = pm.c[column]
        n, total, le60 = _count(
            dbs,
            "ingest",
            sa.select(
                sa.func.count(c),
                sa.func.sum(c),
                sa.func.sum(sa.case((c <= 60, 1), else_=0)),
            ),
        )[0]
        stage = (("stage", column.removesuffix("_time")),)
        assert m["contimg_stage_duration_seconds_count"][stage] == n
        assert math.isclose(m["contimg_stage_duration_seconds_sum"][stage], total)
        assert m["contimg_stage_duration_seconds_bucket"][(("le", "60.0"), *stage)] == le60
        assert m["contimg_stage_duration_seconds_bucket"][(("le", "+Inf"), *stage)] == n

    images = dict(
        _count(
            dbs,
            "products",
            sa.select(products.images.c.type, sa.func.count()).group_by(products.images.c.type),
        )
    )
    assert images and {k[0][1]: v for k, v in m["contimg_images"].items()} == images
    cs = products.ese_candidates.c.status
    cands = dict(_count(dbs, "products", sa.select(cs, sa.func.count()).group_by(cs)))
    assert cands and {k[0][1]: v for k, v in m["contimg_ese_candidates"].items()} == cands
    n_mosaics = _count(dbs, "products", sa.select(sa.func.count()).select_from(products.mosaics))
    assert m["contimg_mosaics"][()] == n_mosaics[0][0] > 0

    # Disk free: the same file systems, a moment apart.
    s = deployment.settings
    disks = {dict(k)["dir"]: (dict(k)["path"], v) for k, v in m["contimg_disk_free_bytes"].items()}
    assert set(disks) == {"incoming", "products", "scratch", "state"}
    path, free = disks["products"]
    assert path == str(s.products_path)
    assert abs(free - shutil.disk_usage(s.products_path).free) < 1e9
    assert m["contimg_workers_paused"][()] == 0
    # The fixture's groups are older than an hour: no real-time factor.
    assert math.isnan(m["contimg_real_time_factor"][()])


def test_real_time_factor_in_metrics_and_status(
    client: TestClient, deployment: Deployment, dbs: Databases
) -> None:
    """Three groups done in the last hour, two of them in parallel: RTF = 3 x 309 s /
    the union of their processing intervals; more arrivals than completions with a
    backlog is 'growing'."""
    now = time.time()
    done = [(now - 1000, 100.0), (now - 1050, 100.0), (now - 100, 100.0)]  # (end, seconds)
    with dbs.ingest.write() as conn:
        for i, (end, secs) in enumerate(done):
            g = f"2026-01-0{i + 1}T00:00:00"
            conn.execute(
                ingest.ingest_queue.insert().values(
                    group_id=g, state="completed", received_at=end - secs - 5, last_update=end
                )
            )
            conn.execute(
                ingest.performance_metrics.insert().values(
                    group_id=g, total_time=secs, imaging_time=secs / 2, recorded_at=end
                )
            )
        for i in range(2):  # two more just arrived, waiting
            conn.execute(
                ingest.ingest_queue.insert().values(
                    group_id=f"2026-01-1{i}T00:00:00",
                    state="pending",
                    received_at=now - 10,
                    last_update=now - 10,
                )
            )
    busy = busy_seconds([(e - s, e) for e, s in done])
    assert math.isclose(busy, 250.0, abs_tol=1e-6)
    expected = 3 * DSA110.group_duration_s / busy
    m = _scrape(client)
    assert math.isclose(m["contimg_real_time_factor"][()], expected, rel_tol=1e-9)
    assert m["contimg_groups_completed_last_hour"][()] == 3
    assert m["contimg_groups_received_last_hour"][()] == 5

    status = client.get("/api/v1/status").json()
    rate = status["rate"]
    assert math.isclose(rate["real_time_factor"], expected, rel_tol=1e-9)
    assert (rate["groups_completed"], rate["groups_received"]) == (3, 5)
    pending = status["queue"]["pending"] + status["queue"]["in_progress"]
    assert rate["backlog"] == pending > 0
    assert rate["backlog_growing"] is True
    assert status["disk_guard"]["paused"] is False


def test_status_says_why_workers_pause(deployment: Deployment) -> None:
    s = deployment.settings
    free_gb = shutil.disk_usage(s.products_path).free / 1e9
    high = s.model_copy(
        update={"worker": s.worker.model_copy(update={"min_free_gb": free_gb + 1000})}
    )
    with TestClient(create_app(high, events=False)) as c:
        guard = c.get("/api/v1/status").json()["disk_guard"]
        paused = _scrape(c)["contimg_workers_paused"][()]
    assert guard["paused"] is True and paused == 1
    assert f"products directory {s.products_path}" in guard["reason"]
    assert "below worker.min_free_gb" in guard["reason"]
