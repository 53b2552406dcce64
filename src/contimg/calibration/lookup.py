"""Which calibration set applies to an observation, and where a set's tables live.

The rule itself (science.md section 6) is :mod:`contimg.calibration.registry`; this
module reads the candidate rows from the ``cal_registry`` database and the pointing
each set was solved at (``pointing.json`` beside its tables).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from contimg.calibration.registry import CalSet, choose_set
from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.queries import calibration as cq
from contimg.db.queries.calibration import CaltableRow

DAY_H = 24.0


def caltables_dir(settings: Settings, set_name: str) -> Path:
    """Where the h5parm files of ``set_name`` live."""
    return settings.products_path / "caltables" / set_name


POINTING_FILE = "pointing.json"
"""Beside a set's tables: the pointing it was solved at (``ra_deg``, ``dec_deg`` ICRS,
``calibrator``, ``mid_mjd``). The lookup applies a set only at its own pointing."""


def write_set_pointing(
    out_dir: Path, *, ra_deg: float, dec_deg: float, calibrator: str, mid_mjd: float
) -> Path:
    path = out_dir / POINTING_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        json.dumps(
            {"ra_deg": ra_deg, "dec_deg": dec_deg, "calibrator": calibrator, "mid_mjd": mid_mjd}
        )
    )
    tmp.replace(path)
    return path


def set_pointing_dec(tables: Sequence[CaltableRow]) -> float | None:
    """The pointing Dec a set was solved at, from ``pointing.json`` beside its tables."""
    for t in tables:
        path = Path(t.path).parent / POINTING_FILE
        try:
            return float(json.loads(path.read_text())["dec_deg"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def lookup_set(
    dbs: Databases,
    settings: Settings,
    *,
    mjd: float,
    dec_deg: float | None = None,
    extrapolate_max_h: float | None = None,
) -> CalSet | None:
    """The set to use for an observation at ``mjd`` (science.md section 6), or None.

    With ``dec_deg`` (the group's ICRS pointing Dec) only sets solved at that pointing
    take part. ``extrapolate_max_h`` overrides ``calibration.extrapolate_max_h``.
    """
    cs = settings.calibration
    max_h = cs.extrapolate_max_h if extrapolate_max_h is None else extrapolate_max_h
    with dbs.cal_registry.read() as conn:
        rows = cq.candidate_rows(
            conn,
            mjd=mjd,
            max_extrapolate_days=max_h / DAY_H
            + max(cs.k_validity_h, cs.bp_validity_h, cs.g_validity_h) / DAY_H,
        )
    set_decs: dict[str, float | None] = {}
    if dec_deg is not None:
        by_set: dict[str, list[CaltableRow]] = {}
        for r in rows:
            by_set.setdefault(r.set_name, []).append(r)
        set_decs = {name: set_pointing_dec(tabs) for name, tabs in by_set.items()}
    return choose_set(
        rows,
        mjd=mjd,
        extrapolate_max_h=max_h,
        dec_deg=dec_deg,
        set_decs=set_decs if dec_deg is not None else None,
        pointing_match_deg=cs.pointing_match_deg,
    )
