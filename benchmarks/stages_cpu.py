"""A CPU-bound stage for benchmarks/scaleout_bench.py (imported by worker processes
through CONTIMG_WORKER__STAGE_MODULES): a fixed amount of single-threaded work per
group, ``$CONTIMG_BENCH_WORK`` loop iterations."""

from __future__ import annotations

import os

from contimg.stages.base import REGISTRY, StageContext


def work(n: int) -> float:
    """Fixed single-threaded work (pure Python, holds one core)."""
    acc = 0.0
    for i in range(n):
        acc += (i % 7) * 0.5
    return acc


class CpuStage:
    name = "bench_cpu"
    phase = "conversion"

    def run(self, ctx: StageContext) -> None:
        work(int(os.environ.get("CONTIMG_BENCH_WORK", "10000000")))


REGISTRY.register(CpuStage(), order=10)  # type: ignore[arg-type]
