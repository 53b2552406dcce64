"""Simulated DSA-110 observations and reference catalogs with a recorded truth.

- :mod:`contimg.sim.sky`: a synthetic sky, written as NVSS-, FIRST- and VLASS-like
  catalogs plus ``sky_truth.json``.
- :mod:`contimg.sim.variability`: light curves (constant, ESE-like dips, rapid changes).
- :mod:`contimg.sim.layout`: antenna layouts (T-shaped, or a station CSV).
- :mod:`contimg.sim.instrument`: antenna gains, delays and bandpasses that drift.
- :mod:`contimg.sim.observe`: UVH5 subband files of drift-scan groups, with truth.
- :mod:`contimg.sim.presets`: the ``ci``, ``demo`` and ``full`` sizes.

See ``docs/simulator.md``.
"""
