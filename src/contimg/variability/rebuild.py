"""Variability statistics and running state rebuilt from ``photometry``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from contimg.db.queries import photometry as pq
from contimg.science import ese as ese_rules
from contimg.science.variability import RunningSums
from contimg.variability.measurements import Good, is_good, stats_row
from contimg.variability.reasons import Found, rapid_reason, variability_reason


def recompute_sources(
    conn: Connection, source_ids: Sequence[str] | None, *, th: ese_rules.EseThresholds, now: float
) -> tuple[tuple[list[dict[str, Any]], list[dict[str, Any]]], list[Found]]:
    """Statistics and running state from scratch (from ``photometry``)."""
    rows = pq.source_measurements(conn, source_ids=source_ids)
    stats_rows: list[dict[str, Any]] = []
    sums_rows: list[dict[str, Any]] = []
    found: list[Found] = []
    by_source: dict[str, list[pq.Measurement]] = {}
    for r in rows:
        by_source.setdefault(r.source_id, []).append(r)
    for sid, meas in by_source.items():
        good = [r for r in meas if is_good(r.flags, r.peak_err_jyb, r.peak_jyb)]
        if not good:
            continue
        f = [1e3 * r.peak_jyb for r in good]
        s = [1e3 * float(r.peak_err_jyb or 0.0) for r in good]  # is_good: err > 0
        state = RunningSums()
        state.extend(f, s)
        st = state.stats()
        last = good[-1]
        g = Good(
            sid,
            f[-1],
            s[-1],
            math.nan if last.mjd is None else last.mjd,  # stats_row does not read it
            last.measured_at,
            last.ra_deg,
            last.dec_deg,
            last.nvss_flux_mjy,
        )
        last_mjd = max((r.mjd for r in good if r.mjd is not None), default=None)
        last_at = max(r.measured_at for r in good)
        stats_rows.append(stats_row(g, st, last_mjd=last_mjd, last_at=last_at, now=now))
        sums_rows.append({
            "source_id": sid, "state": state.to_text(), "last_good_mjd": last.mjd,
            "last_good_flux_mjy": f[-1], "last_good_err_mjy": s[-1], "updated_at": now,
        })  # fmt: skip
        var_sig = ese_rules.variability_significance(st.n_obs, st.chi2_nu, st.sigma_deviation, th)
        mjds = [float(r.mjd or 0.0) for r in good]
        if var_sig is not None:
            thr = float(ese_rules.variability_threshold(st.n_obs, th))
            assert st.chi2_nu is not None
            reason = variability_reason(var_sig, thr, st.n_obs, st.chi2_nu, th, mjds, f, s)
            found.append((sid, "variability", var_sig, reason))
        pair = ese_rules.rapid_change_pair(f, s, th)
        if pair is not None:
            k, sig = pair
            thr = float(ese_rules.rapid_threshold(len(f), th))
            reason = rapid_reason(sig, thr, len(f), th, (mjds[k], f[k]), (mjds[k + 1], f[k + 1]))
            found.append((sid, "rapid_change", sig, reason))
    return (stats_rows, sums_rows), found
