"""Why an ESE candidate was flagged: the ``reason`` JSON stored with it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from contimg.db.queries import photometry as pq
from contimg.science import ese as ese_rules
from contimg.variability.measurements import is_good

Reason = dict[str, Any] | Callable[[], dict[str, Any]] | None
Found = tuple[str, str, float, Reason]
"""(source id, flag type, significance, why: a dict or a function building it)."""

MAX_REASON_EPOCHS = 50


def rapid_reason(
    sig: float, thr: float, n_obs: int, th: ese_rules.EseThresholds,
    a: tuple[float, float], b: tuple[float, float],
) -> dict[str, Any]:  # fmt: skip
    """Why a 'rapid_change' candidate was flagged: the pair (mjd, flux mJy) a -> b."""
    m = 2.0 * (a[1] - b[1]) / (a[1] + b[1]) if (a[1] + b[1]) != 0 else None
    return {
        "rule": "rapid_change",
        "significance": sig,
        "threshold": thr,
        "base_threshold": th.rapid_vs,
        "false_alarm": th.false_alarm,
        "trials_horizon": th.trials_horizon,
        "n_obs": n_obs,
        "m": None if m is None else abs(m),
        "m_threshold": th.rapid_m,
        "epochs_mjd": [a[0], b[0]],
        "fluxes_mjy": [a[1], b[1]],
    }


def variability_reason(
    sig: float, thr: float, n_obs: int, chi2: float, th: ese_rules.EseThresholds,
    mjd: Sequence[float], f: Sequence[float], s: Sequence[float],
) -> dict[str, Any]:  # fmt: skip
    """Why a 'variability' candidate was flagged, with the epochs deviating >= threshold."""
    fa, sa = np.asarray(f, dtype=np.float64), np.asarray(s, dtype=np.float64)
    w = 1.0 / sa**2
    mu = float(np.sum(w * fa) / np.sum(w)) if fa.size else float("nan")
    dev = (fa - mu) / sa if fa.size else fa
    hit = np.flatnonzero(np.abs(dev) >= thr)[:MAX_REASON_EPOCHS]
    return {
        "rule": "variability",
        "significance": sig,
        "threshold": thr,
        "base_threshold": th.sigma_deviation,
        "false_alarm": th.false_alarm,
        "trials_horizon": th.trials_horizon,
        "n_obs": n_obs,
        "min_obs": th.min_obs,
        "chi2_nu": chi2,
        "chi2_threshold": th.chi2_nu,
        "mean_flux_mjy": mu,
        "epochs_mjd": [float(mjd[i]) for i in hit],
        "deviations_sigma": [float(dev[i]) for i in hit],
    }


def variability_reason_from_db(
    conn: Connection, sid: str, sig: float, thr: float, n_obs: int, chi2: float,
    th: ese_rules.EseThresholds,
) -> dict[str, Any]:  # fmt: skip
    good = [
        r for r in pq.source_measurements(conn, source_ids=[sid])
        if is_good(r.flags, r.peak_err_jyb, r.peak_jyb)
    ]  # fmt: skip
    return variability_reason(
        sig, thr, n_obs, chi2, th, [float(r.mjd or 0.0) for r in good],
        [1e3 * r.peak_jyb for r in good], [1e3 * float(r.peak_err_jyb or 0.0) for r in good],
    )  # fmt: skip


def reason_json(reason: Reason) -> str | None:
    """The ``reason`` column's JSON (a callable reason is built now)."""
    if reason is None:
        return None
    value = reason() if callable(reason) else reason
    return json.dumps(value, allow_nan=False, default=float)
