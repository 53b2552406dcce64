"""contimg: the DSA-110 continuum imaging pipeline and live dashboard."""

__version__ = "0.1.0"
