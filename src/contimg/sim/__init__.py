"""Simulated DSA-110 observations and reference catalogs with a recorded truth.

- :mod:`contimg.sim.sky`: drawing a synthetic sky (its data model is
  :mod:`contimg.sim.skymodel`), written as NVSS-, FIRST- and VLASS-like catalogs plus
  ``sky_truth.json`` by :mod:`contimg.sim.catalogs`.
- :mod:`contimg.sim.variability`: light curves (constant, ESE-like dips, rapid changes).
- :mod:`contimg.sim.layout`: antenna layouts (T-shaped, or a station CSV).
- :mod:`contimg.sim.instrument`: antenna gains, delays and bandpasses that drift.
- :mod:`contimg.sim.observe`: UVH5 subband files of drift-scan groups, with truth;
  groups planned by :mod:`contimg.sim.plan`, visibilities from
  :mod:`contimg.sim.visibilities`.
- :mod:`contimg.sim.presets`: the ``ci``, ``demo`` and ``full`` sizes.

See ``docs/simulator.md``.
"""
