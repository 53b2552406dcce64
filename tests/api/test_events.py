"""Live events through a real uvicorn server on loopback, read with httpx."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from contimg.api import create_app
from contimg.config import Settings
from contimg.db import ingest, products
from contimg.db.engine import Databases
from tests.factories.api import MJD0, STATES, Deployment, sid


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(deployment: Deployment) -> Iterator[str]:
    s: Settings = deployment.settings
    s = s.model_copy(
        update={"api": s.api.model_copy(update={"events_poll_s": 0.2, "events_keepalive_s": 0.5})}
    )
    port = _free_port()
    config = uvicorn.Config(
        create_app(s),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=2,
        lifespan="on",
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=15)
    assert not thread.is_alive()


def _events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    etype, data = "", ""
    for line in lines:
        if line == "":
            if etype:
                yield etype, json.loads(data)
            etype, data = "", ""
        elif line.startswith("event: "):
            etype = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line.startswith(":"):
            yield "keepalive", {}


def _change_everything(dbs: Databases, dep: Deployment) -> None:
    now = time.time()
    with dbs.ingest.write() as conn:
        g = dep.groups[STATES.index("pending")]
        conn.execute(
            ingest.ingest_queue.update()
            .where(ingest.ingest_queue.c.group_id == g)
            .values(state="in_progress", last_update=now)
        )
    with dbs.products.write() as conn:
        conn.execute(
            products.images.insert().values(
                path="/products/images/new.fits",
                ms_path=str(dep.settings.products_path / "ms" / f"{dep.groups[0]}.ms"),
                created_at=now,
                type="image",
            )
        )
        conn.execute(
            products.ese_candidates.insert().values(
                source_id=sid(0),
                flagged_at=now,
                significance=9.0,
                flag_type="rapid_change",
                status="active",
            )
        )
        conn.execute(
            products.ese_candidates.update()
            .where(products.ese_candidates.c.id == dep.candidate_ids[0])
            .values(status="dismissed", dismissed_at=now)
        )
        conn.execute(
            products.mosaics.insert().values(
                path="/products/mosaics/new.fits",
                name="new",
                created_at=now,
                start_mjd=MJD0,
                end_mjd=MJD0 + 0.04,
            )
        )


def test_events_announce_changes(server: str, dbs: Databases, deployment: Deployment) -> None:
    seen: dict[str, list[dict[str, Any]]] = {}
    timeout = httpx.Timeout(10.0)
    with (
        httpx.Client(base_url=server, timeout=timeout) as client,
        client.stream("GET", "/api/v1/events") as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        changed_at = None
        deadline = time.monotonic() + 30
        for etype, data in _events(resp.iter_lines()):
            assert time.monotonic() < deadline, f"events missing; seen {sorted(seen)}"
            seen.setdefault(etype, []).append(data)
            if etype == "hello" and changed_at is None:
                # Let the poller take its baseline, then change the databases.
                time.sleep(0.5)
                _change_everything(dbs, deployment)
                changed_at = time.monotonic()
            wanted = {"group", "image", "mosaic"}
            if wanted <= set(seen) and len(seen.get("candidate", [])) >= 2:
                break
        assert changed_at is not None
        latency = time.monotonic() - changed_at
    assert latency < 5.0  # within seconds (poll period 0.2 s here, 1 s by default)
    assert seen["group"][0]["state"] == "in_progress"
    assert seen["image"][0]["path"] == "/products/images/new.fits"
    assert seen["mosaic"][0]["name"] == "new"
    statuses = {(c["id"], c["status"]) for c in seen["candidate"]}
    assert (deployment.candidate_ids[0], "dismissed") in statuses
    assert any(c["flag_type"] == "rapid_change" for c in seen["candidate"])


def test_one_poller_for_many_clients(server: str) -> None:
    """Several clients share the server's one polling task."""
    with httpx.Client(base_url=server, timeout=httpx.Timeout(10.0)) as client:
        streams = [client.stream("GET", "/api/v1/events") for _ in range(5)]
        responses = [s.__enter__() for s in streams]
        try:
            readers = [_events(r.iter_lines()) for r in responses]  # kept open
            for reader in readers:
                assert next(reader)[0] == "hello"
            health = client.get("/api/v1/health").json()
            assert health["event_clients"] == 5
        finally:
            for s in streams:
                s.__exit__(None, None, None)
