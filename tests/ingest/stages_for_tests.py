"""Stages for worker tests, imported by worker processes through
``CONTIMG_WORKER__STAGE_MODULES='["tests.ingest.stages_for_tests"]'``.

They record what they do in ``$CONTIMG_TEST_RECORD_DIR/events.log`` (one line per
event, appended atomically) so a test can count how often each group was
processed. ``$CONTIMG_TEST_SLOW_GROUP`` names a group whose FIRST attempt sleeps
a long time (the kill test SIGKILLs the worker then).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from contimg.stages.base import REGISTRY, StageContext


def record(event: str, group_id: str) -> None:
    target = os.environ.get("CONTIMG_TEST_RECORD_DIR")
    if not target:
        return
    line = f"{event} {group_id} {os.getpid()}\n".encode()
    fd = os.open(Path(target) / "events.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


class RecordConversion:
    name = "test_conversion"
    phase = "conversion"

    def run(self, ctx: StageContext) -> None:
        record("start", ctx.group_id)
        t0 = time.perf_counter()
        slow = os.environ.get("CONTIMG_TEST_SLOW_GROUP")
        marker = ctx.workdir / ".slow_attempt_done"
        if slow == ctx.group_id and not marker.exists():
            marker.write_text("first attempt sleeps\n")
            record("sleeping", ctx.group_id)
            time.sleep(600)
        time.sleep(float(os.environ.get("CONTIMG_TEST_STAGE_SLEEP_S", "0")))
        # Idempotent product: written to a temporary name, then renamed over.
        tmp = ctx.workdir / f".product.{os.getpid()}"
        tmp.write_text(f"{ctx.group_id} {len(ctx.subband_paths)}\n")
        tmp.replace(ctx.workdir / "product.txt")
        ctx.artifacts["writer_type"] = "test"
        ctx.timings_s["conversion_time"] = time.perf_counter() - t0


class RecordFresh:
    name = "test_fresh"
    phase = "fresh"

    def run(self, ctx: StageContext) -> None:
        ctx.timings_s["imaging_time"] = 0.001
        record("done", ctx.group_id)


REGISTRY.register(RecordConversion(), order=1000)  # type: ignore[arg-type]
REGISTRY.register(RecordFresh(), order=1001)  # type: ignore[arg-type]
