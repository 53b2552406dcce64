"""A stage that runs an external "tool" the way the pipeline's stages run WSClean and
DP3 (``subprocess.run``), for the shutdown tests. Imported by worker processes through
``--stage-module tests.demo.stages_for_shutdown``.

The tool writes its pid to ``$CONTIMG_TEST_RECORD_DIR/tool.pid`` and sleeps; if it
receives SIGTERM it writes ``tool.sigterm`` first, so a test can tell whether a
signal meant for the worker reached the tool directly. The second attempt of a
group (when ``tool.pid`` exists already) runs a short tool and completes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from contimg.stages.base import REGISTRY, StageContext

TOOL = """
import os, signal, sys, time
from pathlib import Path
record = Path(sys.argv[1])
def on_term(signum, frame):
    (record / "tool.sigterm").write_text("SIGTERM reached the tool")
    sys.exit(1)
signal.signal(signal.SIGTERM, on_term)
(record / ".tool.pid").write_text(str(os.getpid()))
(record / ".tool.pid").rename(record / "tool.pid")
time.sleep(float(sys.argv[2]))
"""


class ToolStage:
    name = "test_tool"
    phase = "fresh"

    def run(self, ctx: StageContext) -> None:
        record = Path(os.environ["CONTIMG_TEST_RECORD_DIR"])
        sleep_s = "0" if (record / "tool.pid").exists() else "600"
        subprocess.run([sys.executable, "-c", TOOL, str(record), sleep_s], check=True)
        ctx.timings_s["imaging_time"] = 0.001


REGISTRY.register(ToolStage(), order=1000)  # type: ignore[arg-type]
