"""Photometry of one image as a service: catalogue sources on the image, forced
photometry, flux-scale normalisation, quality control, then the variability update
(:mod:`contimg.variability`), all in one write transaction.

* :mod:`~contimg.photometry.measure`: which catalogue sources, and measuring them;
* :mod:`~contimg.photometry.normalise`: the image's flux-scale correction;
* :mod:`~contimg.photometry.image`: :func:`~contimg.photometry.image.process_image`.

The photometry stage (:mod:`contimg.stages.photometry`) adapts a stage context to
:func:`~contimg.photometry.image.process_image`.
"""
