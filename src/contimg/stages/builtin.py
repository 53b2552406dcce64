"""The built-in stages, registered explicitly (no stage module registers itself on import)."""

from __future__ import annotations

from contimg.stages.base import REGISTRY, StageRegistry
from contimg.stages.calibrate import CalibrateStage
from contimg.stages.convert import ConvertStage
from contimg.stages.image import ImageStage
from contimg.stages.photometry import PhotometryStage


def load_builtin_stages(registry: StageRegistry = REGISTRY) -> StageRegistry:
    """Register the built-in stages in ``registry`` (default :data:`REGISTRY`), in run order.

    The worker calls this once at start-up (never at import of a module).
    Idempotent: a stage replaces the one of the same name.
    """
    registry.register(ConvertStage(), order=10)
    registry.register(CalibrateStage(), order=20)
    registry.register(ImageStage(), order=30)
    registry.register(PhotometryStage(), order=40)
    return registry
