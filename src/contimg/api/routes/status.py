"""Pipeline status (the spec's PipelineStatus) and health."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from contimg import __version__
from contimg.api.deps import AppState, ReadAccess, State
from contimg.api.params import now_mjd
from contimg.api.schemas import DatabaseHealth, DiskUsage, Health, WorkerLease
from contimg.config import DATABASE_NAMES, Settings
from contimg.db import migrations
from contimg.db.queries import api_views, listing, status
from contimg.db.queries.metrics import live_rate
from contimg.ingest import diskguard
from contimg.models import DiskDir, DiskGuardStatus, PipelineStatus

router = APIRouter(tags=["status"], dependencies=[ReadAccess])


STATUS_MAX_AGE_S = 1.0
"""A status answer is reused for this long (the live-event poll period): a page of
fifty dashboards costs the databases one status query a second."""


def _compute_status(state: AppState, recent: int) -> bytes:
    with state.dbs.ingest.read() as conn:
        queue = status.queue_stats(conn)
        groups = status.recent_groups(conn, limit=recent)
        rate = live_rate(conn, now=time.time())
    with state.dbs.cal_registry.read() as conn:
        sets = status.calibration_sets(conn, now_mjd=now_mjd())
    value = PipelineStatus(
        queue=queue,
        calibration_sets=sets,
        recent_groups=groups,
        rate=rate,
        disk_guard=disk_guard_status(state.settings),
    )
    return value.model_dump_json().encode()


@router.get("/status", response_model=PipelineStatus, summary="Pipeline status")
async def get_status(
    state: State,
    recent: Annotated[int, Query(ge=0, le=200, description="Recent groups to include.")] = 20,
) -> Response:
    """Queue counts by state, every calibration set, and the most recent groups
    (at most one second old)."""
    key = ("status", recent)
    # A fresh answer is served from the event loop; only a recomputation (at most one
    # a second, the queries) goes to a worker thread.
    body = state.cache.fresh(key, STATUS_MAX_AGE_S)
    if body is None:
        body = await run_in_threadpool(
            state.cache.get, key, STATUS_MAX_AGE_S, _compute_status, state, recent
        )
    return Response(body, media_type="application/json")


def disk_guard_status(settings: Settings) -> DiskGuardStatus:
    """The workers' disk guard, evaluated on this host with this server's settings."""
    guard = diskguard.check(settings)
    return DiskGuardStatus(
        paused=guard.paused,
        reason=guard.reason,
        min_free_gb=guard.min_free_gb,
        dirs=[DiskDir(name=d.name, path=str(d.path), free_bytes=d.free_bytes) for d in guard.dirs],
    )


def _disk(name: Literal["state", "incoming", "products"], path: Path) -> DiskUsage:
    if not path.exists():
        return DiskUsage(name=name, path=str(path), exists=False)
    usage = shutil.disk_usage(path)
    return DiskUsage(
        name=name,
        path=str(path),
        exists=True,
        total_bytes=usage.total,
        free_bytes=usage.free,
        used_fraction=(usage.total - usage.free) / usage.total if usage.total else None,
    )


@router.get("/health", response_model=Health, summary="Health")
def get_health(state: State) -> Health:
    """Databases reachable (and at which revision), free disk space of the state,
    incoming and products directories, and the workers holding leases."""
    dbs: list[DatabaseHealth] = []
    for name in DATABASE_NAMES:
        db = state.dbs[name]
        try:
            st = migrations.status(db)
            error = None if st.exists else "not created: run 'contimg db init'"
            if st.exists and st.current != st.head:
                error = f"at {st.current}, head is {st.head}: run 'contimg db upgrade'"
            dbs.append(
                DatabaseHealth(
                    name=name,
                    ok=st.exists and st.current == st.head,
                    location=db.location,
                    revision=st.current,
                    error=error,
                )
            )
        except Exception as exc:  # health reports a broken database, it never fails
            dbs.append(DatabaseHealth(name=name, ok=False, location=db.location, error=str(exc)))
    workers: list[WorkerLease] = []
    now = time.time()
    if dbs[DATABASE_NAMES.index("ingest")].ok:
        with state.dbs.ingest.read() as conn:
            rows, _ = listing.list_page(
                conn, api_views.WORKERS, listing.Query(), limit=1000, offset=0
            )
        for r in rows:
            expires = r["lease_expires_at"]
            workers.append(
                WorkerLease(
                    worker_id=r["worker_id"],
                    n_groups=int(r["n_groups"]),
                    lease_expires_at=expires,
                    heartbeat_at=r["heartbeat_at"],
                    expired=expires is not None and expires < now,
                )
            )
    s = state.settings
    return Health(
        ok=all(d.ok for d in dbs),
        time=now,
        version=__version__,
        backend=s.backend,
        databases=dbs,
        disks=[
            _disk("state", s.state_path),
            _disk("incoming", s.incoming_path),
            _disk("products", s.products_path),
        ],
        workers=workers,
        event_clients=state.events.n_clients,
    )
