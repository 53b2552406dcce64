"""Mosaics: deep images of time windows (builder) and their automatic scheduler.

See ``docs/mosaics.md``. The maths lives in :mod:`contimg.science.mosaic`.
"""
