"""Calibration: calibrator list and transits, the calibration registry rule, DP3.

Services (no stage code): :mod:`~contimg.calibration.lookup` (which set applies),
:mod:`~contimg.calibration.fallback` (no set covers a group: wait, fall back or fail),
:mod:`~contimg.calibration.solve` (solving a transit), :mod:`~contimg.calibration.matcher`
(the ingest hook's built-in calibrator matcher).
"""
