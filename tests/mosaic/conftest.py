"""Fixtures of the mosaic tests."""

from __future__ import annotations

from astropy.utils import iers

iers.conf.auto_download = False
