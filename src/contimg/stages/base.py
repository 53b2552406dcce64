"""The stage contract shared by the worker and every stage.

A stage is idempotent: running it again for the same group (after a crash or a
``queue retry``) replaces its products and rows instead of duplicating them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from contimg.config import Settings
from contimg.db.engine import Databases

Phase = Literal["conversion", "fresh"]

log = logging.getLogger(__name__)


@dataclass
class StageContext:
    """Everything a stage needs to process one group."""

    settings: Settings
    dbs: Databases
    group_id: str
    subband_paths: dict[int, Path]
    """Subband index (0 = highest frequency) -> UVH5 file."""
    workdir: Path
    """The group's directory under the products dir (created by the worker)."""
    artifacts: dict[str, Any] = field(default_factory=dict)
    """Results handed from stage to stage. Keys in use:

    ``ms_path`` (Path, set by conversion), ``mid_mjd`` (float, observation mid-time),
    ``pointing_ra_deg`` / ``pointing_dec_deg`` (float), ``cal_set`` (str | None),
    ``image_paths`` (dict: ``"image"``, ``"pbcor"``, ``"residual"`` -> Path of FITS,
    set by imaging). A stage that needs a key a previous run produced (after a crash)
    must be able to rebuild it from the database.
    """
    timings_s: dict[str, float] = field(default_factory=dict)
    """``performance_metrics`` column -> seconds, filled by stages."""
    progress: Callable[[str], None] = field(default=lambda msg: log.info("%s", msg))
    """Report progress of long work (also renews nothing: the worker's heartbeat does)."""
    notes: list[str] = field(default_factory=list)
    """Caveats of a group that completed (e.g. calibrated with an extrapolated set, or
    imaged uncalibrated): the worker stores them as the group's ``error_message``
    (``note: ...``), so the queue and status pages show them."""


class StageDeferred(Exception):
    """Raised by a stage that cannot run YET (e.g. no calibration covers the group).

    The worker puts the group back to ``pending`` with ``reason`` as its visible
    ``error_message``, does not count a retry, and does not offer it again before
    ``retry_after_s`` seconds. Past the stage's own deadline, the stage raises an
    ordinary exception instead, and the group fails with that message.
    """

    def __init__(self, reason: str, *, retry_after_s: float = 60.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class Stage(Protocol):
    """One step of the pipeline."""

    name: str
    phase: Phase

    def run(self, ctx: StageContext) -> None:
        """Do the work for ``ctx.group_id``; raise an exception with a clear message on failure."""
        ...


class StageRegistry:
    """Stages in run order. Later issues register theirs; tests may register their own."""

    def __init__(self) -> None:
        self._stages: list[tuple[float, Stage]] = []

    def register(self, stage: Stage, *, order: float) -> Stage:
        """Add ``stage`` (replacing one of the same name); lower ``order`` runs first."""
        self._stages = [(o, s) for o, s in self._stages if s.name != stage.name]
        self._stages.append((order, stage))
        self._stages.sort(key=lambda item: item[0])
        return stage

    def unregister(self, name: str) -> None:
        self._stages = [(o, s) for o, s in self._stages if s.name != name]

    def phase(self, phase: Phase) -> list[Stage]:
        return [s for _, s in self._stages if s.phase == phase]

    def __iter__(self) -> Iterator[Stage]:
        return iter(s for _, s in self._stages)

    def names(self) -> list[str]:
        return [s.name for _, s in self._stages]


REGISTRY = StageRegistry()
"""The pipeline's stages. Built-in stages are added by
:func:`contimg.stages.builtin.load_builtin_stages`; plug-in modules
(``worker.stage_modules``) register theirs when the worker imports them."""
