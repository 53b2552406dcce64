"""Variability of measured sources: one image's incremental update, a full recompute."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.queries import variability as vq
from contimg.science import ese as ese_rules
from contimg.science.flags import BAD_MASK
from contimg.science.variability import update_batch
from contimg.variability.candidates import auto_flag, thresholds
from contimg.variability.measurements import Good, nullable
from contimg.variability.reasons import Found, rapid_reason, variability_reason_from_db
from contimg.variability.rebuild import recompute_sources


def update_variability(
    conn: Connection,
    *,
    new: Sequence[Good],
    recompute_ids: Iterable[str],
    th: ese_rules.EseThresholds,
    now: float,
) -> int:
    """Fold this image's good measurements into the running state; update stats and ESE.

    ``recompute_ids`` (sources that had rows from an earlier run of the same image)
    are rebuilt from ``photometry``. Returns the number of candidates opened or raised.

    The incremental part is vectorised: one query reads every running state, numpy
    updates them (:func:`update_batch`) and evaluates the ESE rules, and one UPSERT
    per table writes them back. Only a measurement older than its source's latest
    (an image processed out of order) asks the database for its neighbours in time.
    """
    redo = set(recompute_ids)
    incremental = [g for g in new if g.source_id not in redo]
    ids = [g.source_id for g in incremental]
    if len(set(ids)) != len(ids):
        raise ValueError("update_variability: a source has two measurements in one image")
    sums = vq.get_sums(conn, source_ids=ids)
    missing: vq.SumsRow = ("", None, None, None)
    old = [sums.get(sid, missing) for sid in ids]
    f = np.array([g.f_mjy for g in incremental], dtype=np.float64)
    s = np.array([g.s_mjy for g in incremental], dtype=np.float64)
    mjd = np.array([g.mjd for g in incremental], dtype=np.float64)
    new_states, bs = update_batch([o[0] or None for o in old], f, s)
    # the latest good measurement before this one (NaN: none recorded)
    last_mjd = np.array([o[1] for o in old], dtype=np.float64)
    last_f = np.array([o[2] for o in old], dtype=np.float64)
    last_s = np.array([o[3] for o in old], dtype=np.float64)
    known = ~np.isnan(last_mjd)
    late = known & (mjd < last_mjd)  # an image older than the source's latest
    var_thr = ese_rules.variability_threshold(bs.n_obs, th)
    rapid_thr = ese_rules.rapid_threshold(bs.n_obs, th)
    rapid = np.where(
        known & ~late,
        ese_rules.rapid_change_significances(last_f, last_s, f, s, th, vs_threshold=rapid_thr),
        np.nan,
    )
    with np.errstate(invalid="ignore"):
        var_flag = (
            (bs.n_obs >= th.min_obs) & (bs.sigma_deviation >= var_thr) & (bs.chi2_nu >= th.chi2_nu)
        )
    found_at: dict[int, list[Found]] = {}
    for i in np.flatnonzero(~np.isnan(rapid)).tolist():
        reason = rapid_reason(
            float(rapid[i]), float(rapid_thr[i]), int(bs.n_obs[i]), th,
            (float(last_mjd[i]), float(last_f[i])), (float(mjd[i]), float(f[i])),
        )  # fmt: skip
        found_at.setdefault(i, []).append((ids[i], "rapid_change", float(rapid[i]), reason))
    for i in np.flatnonzero(late).tolist():
        g = incremental[i]
        before, after = vq.neighbours(conn, source_id=g.source_id, mjd=g.mjd, bad_mask=BAD_MASK)
        for nb in (before, after):
            if nb is None:
                continue
            sig = ese_rules.rapid_change_significance(
                1e3 * nb.peak_jyb, 1e3 * nb.peak_err_jyb, g.f_mjy, g.s_mjy, th,
                float(rapid_thr[i]),
            )  # fmt: skip
            if sig is not None:
                pair = sorted([(float(nb.mjd), 1e3 * nb.peak_jyb), (g.mjd, g.f_mjy)])
                reason = rapid_reason(sig, float(rapid_thr[i]), int(bs.n_obs[i]), th, *pair)
                found_at.setdefault(i, []).append((g.source_id, "rapid_change", sig, reason))
    for i in np.flatnonzero(var_flag).tolist():
        sid = ids[i]
        sig = float(bs.sigma_deviation[i])
        chi2 = float(bs.chi2_nu[i])
        n_i = int(bs.n_obs[i])
        thr_i = float(var_thr[i])

        def lazy(sid: str = sid, sig: float = sig, thr: float = thr_i, n: int = n_i,
                 chi2: float = chi2) -> dict[str, Any]:  # fmt: skip
            return variability_reason_from_db(conn, sid, sig, thr, n, chi2, th)

        found_at.setdefault(i, []).append((sid, "variability", sig, lazy))
    flags_found = [flag for i in sorted(found_at) for flag in found_at[i]]

    # an out-of-order image leaves the source's latest good measurement as it was
    keep_mjd = np.where(late, last_mjd, mjd).tolist()
    keep_f = np.where(late, last_f, f).tolist()
    keep_s = np.where(late, last_s, s).tolist()
    at_now = [now] * len(ids)
    vq.upsert_sums_values(
        conn, values=list(zip(ids, new_states, keep_mjd, keep_f, keep_s, at_now, strict=True))
    )
    columns: dict[str, list[Any]] = {
        "source_id": ids,
        "ra_deg": [g.ra_deg for g in incremental],
        "dec_deg": [g.dec_deg for g in incremental],
        "nvss_flux_mjy": [g.nvss_flux_mjy for g in incremental],
        "n_obs": bs.n_obs.tolist(),
        "last_measured_at": [g.measured_at for g in incremental],
        "last_mjd": keep_mjd,
        "updated_at": at_now,
    }
    for name in ("mean_flux_mjy", "std_flux_mjy", "min_flux_mjy", "max_flux_mjy", "chi2_nu",
                 "eta_metric", "sigma_deviation"):  # fmt: skip
        columns[name] = nullable(getattr(bs, name))
    vq.upsert_stats_values(
        conn, values=list(zip(*(columns[c] for c in vq.STATS_COLUMNS), strict=True))
    )
    if redo:
        (stats_rows, sums_rows), found = recompute_sources(conn, sorted(redo), th=th, now=now)
        vq.upsert_stats(conn, rows=stats_rows)
        vq.upsert_sums(conn, rows=sums_rows)
        flags_found.extend(found)
    n = 0
    for sid, ftype, sig, why in flags_found:
        n += auto_flag(conn, source_id=sid, flag_type=ftype, significance=sig, now=now, reason=why)
    return n


def recompute_variability(
    dbs: Databases, settings: Settings, *, now: float | None = None
) -> tuple[int, int]:
    """Rebuild every ``variability_stats`` row and running state from ``photometry``.

    Stats rows of sources without good measurements are removed unless an ESE
    candidate refers to them. Candidates are raised/opened by the same rules.
    Returns (sources with statistics, candidates opened or raised).
    """
    now = time.time() if now is None else now
    th = thresholds(settings.photometry)
    with dbs.products.write() as conn:
        (stats_rows, sums_rows), found = recompute_sources(conn, None, th=th, now=now)
        vq.delete_sums_and_orphan_stats(conn, keep_ids=[r["source_id"] for r in stats_rows])
        vq.upsert_stats(conn, rows=stats_rows)
        vq.upsert_sums(conn, rows=sums_rows)
        n = sum(
            auto_flag(conn, source_id=sid, flag_type=ft, significance=sig, now=now, reason=why)
            for sid, ft, sig, why in found
        )
    return len(stats_rows), n
