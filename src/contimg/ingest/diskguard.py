"""The disk guard: workers claim no group while the products or scratch directory is
short of free space (``worker.min_free_gb``), and resume by themselves once space is
back. The watcher is not paused: it keeps grouping files into the queue, which only
grows while the workers wait.

The status API evaluates the same check on its own host (``PipelineStatus.disk_guard``),
so the dashboard says why the queue does not move.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from contimg.config import Settings

GB = 1e9


@dataclass(frozen=True)
class GuardedDir:
    name: str
    path: Path
    free_bytes: int


@dataclass(frozen=True)
class GuardState:
    min_free_gb: float
    dirs: tuple[GuardedDir, ...]

    @property
    def short(self) -> tuple[GuardedDir, ...]:
        limit = self.min_free_gb * GB
        return tuple(d for d in self.dirs if d.free_bytes < limit)

    @property
    def paused(self) -> bool:
        return bool(self.short)

    @property
    def reason(self) -> str | None:
        if not self.short:
            return None
        parts = [
            f"{d.name} directory {d.path} has {d.free_bytes / GB:.1f} GB free" for d in self.short
        ]
        return f"{'; '.join(parts)}: below worker.min_free_gb = {self.min_free_gb:g} GB"


def scratch_path(settings: Settings) -> Path:
    return settings.worker.scratch_dir or Path(tempfile.gettempdir())


def free_bytes(path: Path) -> int:
    """Free bytes of the file system holding ``path`` (or its nearest existing parent:
    the products directory may not exist before the first group)."""
    probe = path.resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check(settings: Settings) -> GuardState:
    """Free space of the products and scratch directories against the threshold."""
    dirs = (("products", settings.products_path), ("scratch", scratch_path(settings)))
    return GuardState(
        min_free_gb=settings.worker.min_free_gb,
        dirs=tuple(GuardedDir(name, path, free_bytes(path)) for name, path in dirs),
    )
