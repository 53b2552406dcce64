"""Write a group's files as DSA-110's own writer labels them.

DSA-110's writer fringe-stops each integration at the meridian pointing (hour angle
0, Dec ``phase_center_dec``) and writes the uvw of that direction, but labels the
file as drift (zenith) phased: the old UVH5 header ``phase_type = "drift"`` and no
phase-centre catalog. pyuvdata reads such a file as ``unprojected``. This module
turns a file written by pyuvdata (the simulator's zenith-drift files, or files phased
to a ``driftscan`` centre at the meridian) into that form, so tests can feed the
pipeline both labellings of the same data.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import h5py
import numpy as np


def relabel_as_dsa110_writer(path: Path) -> None:
    """Rewrite ``path`` in place: data and uvw at the meridian pointing, labelled drift."""
    from pyuvdata import UVData

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        uv = UVData.from_file(str(path), file_type="uvh5")
        dec_deg = math.degrees(float(uv.extra_keywords["phase_center_dec"]))
        lat_deg = float(uv.telescope.location.lat.deg)
        el = 90.0 - abs(dec_deg - lat_deg)
        az = 0.0 if dec_deg >= lat_deg else 180.0
        cat = next(iter(uv.phase_center_catalog.values()))
        at_meridian = (
            cat.get("cat_type") == "driftscan"
            and abs(math.degrees(float(cat["cat_lat"])) - el) < 1e-6
        )
        if not at_meridian:
            uv.phase(
                lon=math.radians(az), lat=math.radians(el), cat_type="driftscan",
                phase_frame="altaz", cat_name="meridian",
            )  # fmt: skip
        uv.write_uvh5(str(path), clobber=True, run_check=False)
    with h5py.File(path, "r+") as fh:
        hdr = fh["Header"]
        for key in ("phase_center_catalog", "phase_center_id_array", "Nphase"):
            if key in hdr:
                del hdr[key]
        hdr["phase_type"] = np.bytes_("drift")
