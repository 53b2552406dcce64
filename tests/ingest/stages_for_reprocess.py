"""A stage for the reprocessing tests, imported by worker processes through
``CONTIMG_WORKER__STAGE_MODULES='["tests.ingest.stages_for_reprocess"]'``: it writes a
product naming the settings it ran with, and records ``group pid robust`` in
``$CONTIMG_TEST_RECORD_DIR/events.log``."""

from __future__ import annotations

import os
import time
from pathlib import Path

from contimg.stages.base import REGISTRY, StageContext


class SettingsProduct:
    name = "settings_product"
    phase = "conversion"

    def run(self, ctx: StageContext) -> None:
        time.sleep(float(os.environ.get("CONTIMG_TEST_STAGE_SLEEP_S", "0")))
        robust = ctx.settings.imaging.robust
        (ctx.workdir / "product.txt").write_text(f"robust={robust:g}\n")
        ctx.timings_s["imaging_time"] = 0.01
        target = os.environ.get("CONTIMG_TEST_RECORD_DIR")
        if target:
            line = f"{ctx.group_id} {os.getpid()} {robust:g}\n".encode()
            fd = os.open(Path(target) / "events.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)


REGISTRY.register(SettingsProduct(), order=10)  # type: ignore[arg-type]
