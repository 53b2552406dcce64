"""Pipeline stages: each takes a :class:`StageContext`, calls science/ and external
tools, and records its products through ``db.queries``.

Stages register themselves in :data:`REGISTRY` (see :mod:`contimg.stages.base`);
the worker runs the ``conversion`` phase while the group is ``in_progress`` and the
``fresh`` phase (downstream of the new Measurement Set) while it is
``processing_fresh``.
"""

from contimg.stages.base import REGISTRY, Stage, StageContext, StageDeferred, StageRegistry

__all__ = ["REGISTRY", "Stage", "StageContext", "StageDeferred", "StageRegistry"]
