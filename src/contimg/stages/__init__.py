"""Pipeline stages: each takes a :class:`StageContext`, calls the services (which use
science/ and external tools), and records its products through ``db.queries``.

The worker registers the built-in stages in :data:`REGISTRY` at start-up
(:func:`contimg.stages.builtin.load_builtin_stages`; plug-in modules register
theirs when imported, see :mod:`contimg.stages.base`), then runs the
``conversion`` phase while the group is ``in_progress`` and the ``fresh`` phase
(downstream of the new Measurement Set) while it is ``processing_fresh``.

Stages only adapt a :class:`StageContext` to the services that do the work
(:mod:`contimg.conversion`, :mod:`contimg.calibration`, :mod:`contimg.imaging`,
:mod:`contimg.photometry`, :mod:`contimg.variability`). A stage module imports
:mod:`~contimg.stages.base` and :mod:`~contimg.stages.artifacts`, never another stage
module; ``api/`` and ``cli/`` never import ``stages/`` (``tests/test_layout.py``).
"""

from contimg.stages.base import REGISTRY, Stage, StageContext, StageDeferred, StageRegistry

__all__ = ["REGISTRY", "Stage", "StageContext", "StageDeferred", "StageRegistry"]
