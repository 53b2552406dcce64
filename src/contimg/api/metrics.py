"""``GET /metrics``: the pipeline's state in the Prometheus text format.

Every value is read from the databases (and the file system) at scrape time by a
custom collector, so several API processes and any number of workers report the
same numbers. The names (``contimg_*``) are listed in docs/operations.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from contimg.api.deps import AppState, ReadAccess, State
from contimg.db import products
from contimg.db.queries import metrics as mq
from contimg.db.queries.ingest import STATES, count_by_state
from contimg.ingest import diskguard

router = APIRouter(tags=["status"], dependencies=[ReadAccess])


class PipelineCollector(Collector):
    """Reads the databases on each ``collect()``."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        s = self.state.settings
        dbs = self.state.dbs
        now = time.time()
        with dbs.ingest.read() as conn:
            counts = count_by_state(conn)
            processed = mq.groups_processed(conn)
            hists = mq.stage_histograms(conn)
            rate = mq.live_rate(conn, now=now)
        with dbs.products.read() as conn:
            images = mq.count_by(conn, products.images, "type", "unknown")
            candidates = mq.count_by(conn, products.ese_candidates, "status", "active")
            n_mosaics = mq.count_rows(conn, products.mosaics)

        queue = GaugeMetricFamily(
            "contimg_queue_groups", "Groups in the ingest queue by state.", labels=["state"]
        )
        for st in STATES:
            queue.add_metric([st], counts.get(st, 0))
        yield queue
        yield CounterMetricFamily(
            "contimg_groups_processed",
            "Groups processed to completion (one performance record each).",
            value=processed,
        )
        yield GaugeMetricFamily(
            "contimg_groups_failed",
            "Groups in the failed state (retries exhausted or waiting for one).",
            value=counts.get("failed", 0),
        )
        hist = HistogramMetricFamily(
            "contimg_stage_duration_seconds",
            "Seconds per stage of each processed group (performance_metrics).",
            labels=["stage"],
        )
        for column, h in hists.items():
            stage = column.removesuffix("_time")
            # Bounds as Prometheus writes them: "60.0", "+Inf".
            buckets: list[tuple[str, float]] = [(repr(float(b)), n) for b, n in h.buckets]
            buckets.append(("+Inf", h.count))
            hist.add_metric([stage], buckets, h.sum)
        yield hist
        yield GaugeMetricFamily(
            "contimg_real_time_factor",
            "Sky seconds processed per busy wall second over the last hour (NaN: none).",
            value=float("nan") if rate.real_time_factor is None else rate.real_time_factor,
        )
        yield GaugeMetricFamily(
            "contimg_groups_received_last_hour",
            "Groups that arrived in the last hour.",
            value=rate.groups_received,
        )
        yield GaugeMetricFamily(
            "contimg_groups_completed_last_hour",
            "Groups completed in the last hour.",
            value=rate.groups_completed,
        )
        img = GaugeMetricFamily("contimg_images", "Images by type.", labels=["type"])
        for kind, n in sorted(images.items()):
            img.add_metric([kind], n)
        yield img
        cand = GaugeMetricFamily(
            "contimg_ese_candidates", "ESE candidates by status.", labels=["status"]
        )
        for status, n in sorted(candidates.items()):
            cand.add_metric([status], n)
        yield cand
        yield GaugeMetricFamily("contimg_mosaics", "Mosaics built.", value=n_mosaics)
        disk = GaugeMetricFamily(
            "contimg_disk_free_bytes",
            "Free bytes of the pipeline's directories.",
            labels=["dir", "path"],
        )
        guard = diskguard.check(s)
        for d in guard.dirs:
            disk.add_metric([d.name, str(d.path)], d.free_bytes)
        for name, path in (("incoming", s.incoming_path), ("state", s.state_path)):
            disk.add_metric([name, str(path)], diskguard.free_bytes(path))
        yield disk
        yield GaugeMetricFamily(
            "contimg_workers_paused",
            "1 while the disk guard holds the workers (free space below worker.min_free_gb).",
            value=1 if guard.paused else 0,
        )


def render(state: AppState) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(state))
    return bytes(generate_latest(registry))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    include_in_schema=False,  # plain text for Prometheus, not part of the JSON API (/api/v1)
)
async def metrics(state: State) -> Response:
    """Queue depth per state, groups processed and failed, per-stage duration
    histograms, the real-time factor, image / candidate / mosaic counts and free disk
    space, in the Prometheus text exposition format."""
    body = await run_in_threadpool(render, state)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
