"""The whitelisted listings of the API: for each table (or join), the base SELECT
and the columns a client may filter and sort on. See :mod:`listing`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from contimg.db.cal_registry import caltables
from contimg.db.ingest import ingest_files, ingest_queue, performance_metrics, subband_files
from contimg.db.master_sources import sources
from contimg.db.products import (
    ese_candidates,
    image_qc,
    images,
    mosaics,
    ms_index,
    photometry,
    variability_stats,
)
from contimg.db.queries import patterns
from contimg.db.queries.listing import Listing, ListingRow
from contimg.db.types import BIGINT


def _cols(table: sa.Table) -> dict[str, sa.ColumnElement[Any]]:
    return {c.name: c for c in table.columns}


def _table_listing(
    name: str, table: sa.Table, *, sort: str, desc: bool, key: tuple[str, ...]
) -> Listing:
    return Listing(
        name=name,
        base=sa.select(*table.columns),
        columns=_cols(table),
        default_sort=sort,
        default_descending=desc,
        key=key,
    )


def _groups() -> Listing:
    q, f, pm = ingest_queue, subband_files, performance_metrics
    present = (
        sa.select(sa.func.count())
        .where(f.c.group_id == q.c.group_id)
        .correlate(q)
        .scalar_subquery()
    )
    size = (
        sa.select(sa.cast(sa.func.sum(f.c.file_size), BIGINT))
        .where(f.c.group_id == q.c.group_id)
        .correlate(q)
        .scalar_subquery()
    )
    spec_cols = [
        q.c.group_id,
        q.c.state,
        q.c.received_at,
        q.c.last_update,
        q.c.expected_subbands,
        q.c.has_calibrator,
        q.c.calibrators,
        q.c.retry_count,
        q.c.error_message,
    ]
    base = sa.select(
        *spec_cols,
        present.label("subbands_present"),
        size.label("total_size_bytes"),
        pm.c.total_time.label("total_time_s"),
    ).outerjoin(pm, pm.c.group_id == q.c.group_id)
    columns: dict[str, sa.ColumnElement[Any]] = {c.name: c for c in spec_cols}
    columns.update(
        subbands_present=present,
        total_size_bytes=size,
        total_time_s=pm.c.total_time,
        lease_owner=q.c.lease_owner,
    )
    return Listing(
        name="groups",
        base=base,
        columns=columns,
        default_sort="received_at",
        default_descending=True,
        key=("group_id",),
    )


def _candidates() -> Listing:
    e, v = ese_candidates, variability_stats
    base = sa.select(
        *e.columns,
        v.c.ra_deg,
        v.c.dec_deg,
        v.c.mean_flux_mjy,
        v.c.nvss_flux_mjy,
        v.c.chi2_nu,
        v.c.sigma_deviation,
        v.c.n_obs,
    ).outerjoin(v, v.c.source_id == e.c.source_id)
    columns = _cols(e)
    columns.update(
        ra_deg=v.c.ra_deg,
        dec_deg=v.c.dec_deg,
        mean_flux_mjy=v.c.mean_flux_mjy,
        nvss_flux_mjy=v.c.nvss_flux_mjy,
        chi2_nu=v.c.chi2_nu,
        sigma_deviation=v.c.sigma_deviation,
        n_obs=v.c.n_obs,
    )
    return Listing(
        name="candidates",
        base=base,
        columns=columns,
        default_sort="significance",
        default_descending=True,
        key=("id",),
    )


def _images() -> Listing:
    """Images with their quality-control verdict (products_0007; NULL: not checked)."""
    i, q = images, image_qc
    base = sa.select(
        *i.columns, q.c.status.label("qc_status"), q.c.reasons.label("qc_reasons")
    ).outerjoin(q, q.c.image_path == i.c.path)
    columns = _cols(i)
    columns.update(qc_status=q.c.status)
    return Listing(
        name="images",
        base=base,
        columns=columns,
        default_sort="created_at",
        default_descending=True,
        key=("id",),
    )


def _mosaics() -> Listing:
    m = mosaics
    base = sa.select(
        *m.columns,
        (m.c.integration_sec / 3600.0).label("hours"),
        (m.c.noise_jy * 1000).label("noise_mjy"),
    )
    columns = _cols(m)
    columns.update(hours=m.c.integration_sec, noise_mjy=m.c.noise_jy)
    return Listing(
        name="mosaics",
        base=base,
        columns=columns,
        default_sort="created_at",
        default_descending=True,
        key=("id",),
    )


def _workers() -> Listing:
    q = ingest_queue
    base = (
        sa.select(
            q.c.lease_owner.label("worker_id"),
            sa.func.count().label("n_groups"),
            sa.func.max(q.c.lease_expires_at).label("lease_expires_at"),
            sa.func.max(q.c.heartbeat_at).label("heartbeat_at"),
        )
        .where(q.c.lease_owner.is_not(None))
        .group_by(q.c.lease_owner)
    )
    return Listing(
        name="workers",
        base=base,
        columns={"worker_id": q.c.lease_owner},
        default_sort="worker_id",
        key=(),
    )


GROUPS = _groups()
SUBBAND_FILES = _table_listing(
    "subband_files", subband_files, sort="discovered_at", desc=True, key=("id",)
)
INGEST_FILES = _table_listing(
    "ingest_files", ingest_files, sort="last_checked_at", desc=True, key=("file_path",)
)
PERFORMANCE = _table_listing(
    "performance", performance_metrics, sort="recorded_at", desc=True, key=("id",)
)
MS = _table_listing("ms", ms_index, sort="mid_mjd", desc=True, key=("path",))
IMAGES = _images()
PHOTOMETRY = _table_listing("photometry", photometry, sort="mjd", desc=False, key=("id",))
VARIABILITY = _table_listing(
    "sources", variability_stats, sort="sigma_deviation", desc=True, key=("source_id",)
)
CANDIDATES = _candidates()
MOSAICS = _mosaics()
CALTABLES = _table_listing(
    "caltables", caltables, sort="valid_start_mjd", desc=True, key=("order_index", "id")
)
CATALOG = _table_listing("catalog", sources, sort="s_nvss", desc=True, key=("source_id",))
WORKERS = _workers()


# ------------------------------------------------------------------ exports

ExportUnit = tuple[str, float] | None
"""``(exported name, factor)``: the stored value times ``factor``; None: left out."""

_MJY = 1000.0
_STAGE_TIMES: tuple[str, ...] = ("conversion_time", "concat_time", "k_solve_time")
_STAGE_TIMES += ("bp_solve_time", "g_solve_time", "imaging_time", "photometry_time", "total_time")
EXPORT_UNITS: dict[str, dict[str, ExportUnit]] = {
    # Fluxes as the dashboard shows them (mJy, mJy/beam), each named with its unit.
    "photometry": {
        "peak_jyb": ("peak_mjyb", _MJY),
        "peak_err_jyb": ("peak_err_mjyb", _MJY),
        "raw_peak_jyb": ("raw_peak_mjyb", _MJY),
        "raw_peak_err_jyb": ("raw_peak_err_mjyb", _MJY),
    },
    "images": {"noise_jy": ("noise_mjyb", _MJY)},
    "mosaics": {"noise_jy": ("noise_mjyb", _MJY), "noise_mjy": None},
    "catalog": {"s_nvss": ("s_nvss_mjy", _MJY), "s_vlass": ("s_vlass_mjy", _MJY)},
    "performance": {c: (f"{c}_s", 1.0) for c in _STAGE_TIMES},
}
"""How each listing's export differs from its API rows: stored Jy become mJy (as on
the dashboard) and every quantity's column name states its unit (``peak_mjyb``,
``noise_mjyb``, ``*_time_s``). One table for every export (docs/api.md)."""


def export_columns(lst: Listing) -> list[str]:
    """The export's column names, in the listing's order."""
    units = EXPORT_UNITS.get(lst.name, {})
    out: list[str] = []
    for c in lst.output_columns:
        if c not in units:
            out.append(c)
        elif (unit := units[c]) is not None:
            out.append(unit[0])
    return out


def export_row(lst: Listing, row: ListingRow) -> ListingRow:
    """One listing row as exported (units converted, columns renamed)."""
    units = EXPORT_UNITS.get(lst.name)
    if not units:
        return row
    out = dict(row)
    for c, unit in units.items():
        value = out.pop(c, None)
        if unit is not None:
            out[unit[0]] = None if value is None else float(value) * unit[1]
    return out


# ------------------------------------------------------------------ performance


def _bin(col: sa.ColumnElement[Any], bin_s: float) -> sa.ColumnElement[Any]:
    return sa.func.floor(col / bin_s) * bin_s


@dataclass(frozen=True, slots=True)
class StageTimesBin:
    """Mean seconds per stage of the groups recorded in one time bin."""

    bin_start: float
    n_groups: int
    conversion_time: float | None
    concat_time: float | None
    k_solve_time: float | None
    bp_solve_time: float | None
    g_solve_time: float | None
    imaging_time: float | None
    photometry_time: float | None
    total_time: float | None


def stage_times_binned(
    conn: sa.Connection, *, since: float, until: float, bin_s: float
) -> list[StageTimesBin]:
    """Mean seconds of each stage over the groups recorded in each time bin
    (``recorded_at`` in [since, until)), oldest bin first."""
    pm = performance_metrics
    b = _bin(pm.c.recorded_at, bin_s).label("bin_start")
    stages = [
        "conversion_time",
        "concat_time",
        "k_solve_time",
        "bp_solve_time",
        "g_solve_time",
        "imaging_time",
        "photometry_time",
        "total_time",
    ]
    stmt = (
        sa.select(
            b, sa.func.count().label("n_groups"), *[sa.func.avg(pm.c[s]).label(s) for s in stages]
        )
        .where(pm.c.recorded_at >= since, pm.c.recorded_at < until)
        .group_by(b)
        .order_by(b)
    )
    return [StageTimesBin(**r) for r in conn.execute(stmt).mappings()]


def throughput_binned(
    conn: sa.Connection, *, since: float, until: float, bin_s: float
) -> dict[str, dict[float, int]]:
    """Per time bin: groups received (``arrived``), groups that finished processing
    (``completed``: performance_metrics.recorded_at, else the completed group's
    last_update) and groups failed (by last_update)."""
    q, pm = ingest_queue, performance_metrics
    out: dict[str, dict[float, int]] = {}
    arrived_bin = _bin(q.c.received_at, bin_s)
    rows = conn.execute(
        sa.select(arrived_bin, sa.func.count())
        .where(q.c.received_at >= since, q.c.received_at < until)
        .group_by(arrived_bin)
    )
    out["arrived"] = {float(b): int(n) for b, n in rows}
    done_at = sa.func.coalesce(pm.c.recorded_at, q.c.last_update)
    done_bin = _bin(done_at, bin_s)
    rows = conn.execute(
        sa.select(done_bin, sa.func.count())
        .select_from(q.outerjoin(pm, pm.c.group_id == q.c.group_id))
        .where(q.c.state == "completed", done_at >= since, done_at < until)
        .group_by(done_bin)
    )
    out["completed"] = {float(b): int(n) for b, n in rows}
    failed_bin = _bin(q.c.last_update, bin_s)
    rows = conn.execute(
        sa.select(failed_bin, sa.func.count())
        .where(q.c.state == "failed", q.c.last_update >= since, q.c.last_update < until)
        .group_by(failed_bin)
    )
    out["failed"] = {float(b): int(n) for b, n in rows}
    return out


# ------------------------------------------------------------------ light curve


def light_curve(conn: sa.Connection, *, source_id: str) -> list[patterns.LightCurveRow]:
    """The API's light curve: the specification's flux time series of a source (mJy,
    oldest first, with the image's field and noise) plus, per point, the image's id
    and path, the quality flags and the raw (un-normalised) flux and error. One
    statement with :func:`patterns.flux_timeseries`
    (:func:`patterns.light_curve_statement`)."""
    return patterns.light_curve_rows(conn, source_id=source_id)
