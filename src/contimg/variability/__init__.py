"""Variability statistics and the ESE candidate workflow (services, no stage code).

* :mod:`~contimg.variability.measurements`: a good measurement and a stats row;
* :mod:`~contimg.variability.reasons`: why a candidate was flagged (stored as JSON);
* :mod:`~contimg.variability.rebuild`: statistics and running state from ``photometry``;
* :mod:`~contimg.variability.candidates`: ESE thresholds, automatic and user flags,
  the candidate status workflow;
* :mod:`~contimg.variability.update`: one image's incremental update, and the full
  recompute behind ``contimg variability recompute``.

The photometry stage (:mod:`contimg.stages.photometry`), ``contimg variability`` /
``contimg ese`` and the API call these functions.
"""
