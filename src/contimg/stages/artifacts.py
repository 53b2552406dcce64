"""What one stage hands the next, rebuilt from the database when a run was cut short.

Shared by the stages (a stage imports this module and :mod:`contimg.stages.base`,
never another stage module).
"""

from __future__ import annotations

from typing import Any

from contimg.db.queries import products as q
from contimg.db.queries.calibration import has_calibrator
from contimg.errors import ContimgError
from contimg.stages.base import StageContext


def artifacts_from_db(ctx: StageContext) -> dict[str, Any]:
    """Rebuild the conversion artifacts of ``ctx.group_id`` from ``ms_index`` (after a crash)."""
    if "ms_path" in ctx.artifacts:
        return ctx.artifacts
    ms_path = ctx.workdir / f"{ctx.group_id}.ms"
    with ctx.dbs.products.read() as conn:
        row = q.get_ms(conn, path=str(ms_path))
    if row is None or not ms_path.is_dir():
        raise ContimgError(
            f"group {ctx.group_id}: no converted Measurement Set {ms_path}; run conversion first"
        )
    ctx.artifacts.update(
        ms_path=ms_path,
        mid_mjd=row.mid_mjd,
        pointing_ra_deg=row.pointing_ra_deg,
        pointing_dec_deg=row.pointing_dec_deg,
        field_name=row.field_name,
    )
    return ctx.artifacts


def is_calibrator_group(ctx: StageContext) -> bool:
    """Whether the calibration stage recorded a calibrator transit for this group."""
    with ctx.dbs.ingest.read() as conn:
        return has_calibrator(conn, group_id=ctx.group_id)
