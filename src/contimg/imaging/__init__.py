"""Imaging: WSClean, Airy primary-beam correction, image metadata."""
