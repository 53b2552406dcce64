"""Conversion stage: the 16 UVH5 subband files of a group -> one Measurement Set.

The conversion itself (MS layout, memory use) is
:func:`contimg.conversion.ms.convert_group`; this stage reuses a complete MS from an
earlier run, records the ``ms_index`` row (stage ``converted``) and hands the
artifacts on.
"""

from __future__ import annotations

import time
from pathlib import Path

from contimg.conversion.ms import convert_group
from contimg.db.queries import products as q
from contimg.stages.artifacts import artifacts_from_db
from contimg.stages.base import Phase, StageContext


class ConvertStage:
    """UVH5 group -> ``<group_id>.ms``; ``ms_index`` row at stage ``converted``."""

    name = "convert"
    phase: Phase = "conversion"

    def run(self, ctx: StageContext) -> None:
        ms_path = ctx.workdir / f"{ctx.group_id}.ms"
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        if self._reusable(ctx, ms_path):
            ctx.progress(f"reusing {ms_path.name}: converted after its subband files changed last")
            artifacts_from_db(ctx)
            return
        result = convert_group(
            ctx.subband_paths, ms_path, progress=ctx.progress,
            max_chan_width_hz=ctx.settings.conversion.max_chan_width_khz * 1e3,
            processes=ctx.settings.conversion.processes,
        )  # fmt: skip
        now = time.time()
        with ctx.dbs.products.write() as conn:
            q.upsert_ms(
                conn,
                row={
                    "path": str(ms_path),
                    "start_mjd": result.header.start_mjd,
                    "end_mjd": result.header.end_mjd,
                    "mid_mjd": result.header.mid_mjd,
                    "processed_at": now,
                    "status": "ok",
                    "stage": "converted",
                    "stage_updated_at": now,
                    "cal_applied": 0,
                    "imagename": None,
                    "field_name": result.field_name,
                    "pointing_ra_deg": result.pointing_ra_deg,
                    "pointing_dec_deg": result.pointing_dec_deg,
                },
            )
        ctx.artifacts.update(
            ms_path=ms_path,
            mid_mjd=result.header.mid_mjd,
            pointing_ra_deg=result.pointing_ra_deg,
            pointing_dec_deg=result.pointing_dec_deg,
            field_name=result.field_name,
            writer_type="pyuvdata",
        )
        ctx.timings_s["conversion_time"] = result.conversion_s
        ctx.timings_s["concat_time"] = result.concat_s

    @staticmethod
    def _reusable(ctx: StageContext, ms_path: Path) -> bool:
        """A complete MS from an earlier run (e.g. before a deferral) newer than every input.

        The MS only ever appears under its final name complete (renamed from ``.tmp``),
        and its ``ms_index`` row is written after that; a replaced subband file is newer.
        """
        if not ms_path.is_dir():
            return False
        with ctx.dbs.products.read() as conn:
            row = q.get_ms(conn, path=str(ms_path))
        if row is None or row.status != "ok" or row.mid_mjd is None:
            return False
        built = ms_path.stat().st_mtime
        try:
            return all(p.stat().st_mtime < built for p in ctx.subband_paths.values())
        except OSError:
            return False
