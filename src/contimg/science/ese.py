"""ESE candidate rules (science.md section 4): automatic flags and the status workflow.

* 'variability': ``sigma_deviation >= 5`` and ``chi2_nu >= 3`` with ``n_obs >= 5``;
  significance = sigma_deviation.
* 'rapid_change': two consecutive good measurements a, b with ``|Vs| >= 4.3`` and
  ``|m| >= 0.26``, ``Vs = (f_a - f_b) / sqrt(s_a^2 + s_b^2)``,
  ``m = 2 (f_a - f_b) / (f_a + f_b)``; significance = |Vs|.
* Status: active -> investigated -> dismissed, or back to active; notes are only
  ever appended, one dated line per entry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike

FLAG_TYPES = ("variability", "rapid_change", "user")
CandidateStatus = Literal["active", "investigated", "dismissed"]
"""A candidate's triage status: the word stored, shown and accepted everywhere."""
STATUSES: tuple[str, ...] = get_args(CandidateStatus)
TRANSITIONS: dict[str, frozenset[str]] = {
    "active": frozenset({"investigated", "dismissed"}),
    "investigated": frozenset({"dismissed", "active"}),
    "dismissed": frozenset({"active"}),
}
"""Allowed status changes."""
SPEC_STATUS: dict[str, str] = {
    "active": "active",
    "investigated": "resolved",
    "dismissed": "false_positive",
}
"""THE one table between the two triage vocabularies (science.md section 4).

Keys: the words the database stores (``ese_candidates.status``) and that the API,
the CLI and the dashboard accept and return. Values: the specification's
``ESECandidate.status`` words, which the API also returns as ``spec_status`` and
accepts on input as synonyms. Every other module maps through this table."""
FROM_SPEC_STATUS: dict[str, str] = {v: k for k, v in SPEC_STATUS.items()}


def normalise_status(word: str) -> str:
    """The stored word for ``word`` (a stored word, or the spec's synonym)."""
    return FROM_SPEC_STATUS.get(word, word)


@dataclass(frozen=True)
class EseThresholds:
    sigma_deviation: float = 5.0
    chi2_nu: float = 3.0
    min_obs: int = 5
    rapid_vs: float = 4.3
    rapid_m: float = 0.26
    false_alarm: float = 0.0
    """Probability that a constant source's light curve passes a sigma rule by Gaussian
    noise alone; 0 keeps the fixed thresholds above. With ``p > 0`` the threshold of a
    light curve of N measurements is the larger of the fixed one and the |z| at which
    N tests (N - 1 pairs for 'rapid_change') have a chance ``p`` of any exceeding it."""
    trials_horizon: int = 1
    """N is counted as at least this many measurements. A light curve is tested again
    at every new epoch, so a short one that will grow faces the tests of its whole
    life: counting only the N so far gives a constant source a total chance of about
    ``p (ln N + 0.6)`` (the harmonic sum) over its first N epochs, most of it while N
    is small and the threshold lowest. With a horizon H the first H epochs together
    have a chance of at most ``p``."""


def trials_sigma(n_tests: ArrayLike, p_false: float) -> np.ndarray:
    """|z| at which ``n_tests`` two-sided Gaussian tests give a total chance ``p_false``
    of at least one exceedance (Bonferroni: each test ``p_false / n_tests``)."""
    from scipy.special import ndtri

    n = np.maximum(np.asarray(n_tests, dtype=np.float64), 1.0)
    if p_false <= 0:
        return np.zeros_like(n)
    return np.asarray(-ndtri(0.5 * p_false / n))


def _counted(n_obs: ArrayLike, th: EseThresholds) -> np.ndarray:
    """Measurements counted for the trials: ``n_obs``, at least ``th.trials_horizon``."""
    return np.maximum(np.asarray(n_obs, dtype=np.float64), float(max(th.trials_horizon, 1)))


def variability_threshold(n_obs: ArrayLike, th: EseThresholds) -> np.ndarray:
    """The sigma_deviation threshold for light curves of ``n_obs`` good measurements."""
    n = _counted(n_obs, th)
    return np.asarray(np.maximum(th.sigma_deviation, trials_sigma(n, th.false_alarm)))


def rapid_threshold(n_obs: ArrayLike, th: EseThresholds) -> np.ndarray:
    """The |Vs| threshold for light curves of ``n_obs`` good measurements (n - 1 pairs)."""
    n = _counted(n_obs, th)
    return np.asarray(
        np.maximum(th.rapid_vs, trials_sigma(np.maximum(n - 1.0, 1.0), th.false_alarm))
    )


def variability_significance(
    n_obs: int, chi2_nu: float | None, sigma_deviation: float | None, th: EseThresholds
) -> float | None:
    """sigma_deviation if the 'variability' rule fires, else None."""
    if chi2_nu is None or sigma_deviation is None or n_obs < th.min_obs:
        return None
    if sigma_deviation >= float(variability_threshold(n_obs, th)) and chi2_nu >= th.chi2_nu:
        return float(sigma_deviation)
    return None


def rapid_change(f_a: float, s_a: float, f_b: float, s_b: float) -> tuple[float, float]:
    """(Vs, m) of a pair of measurements (mJy or any common unit)."""
    vs = (f_a - f_b) / math.sqrt(s_a * s_a + s_b * s_b)
    total = f_a + f_b
    m = 2.0 * (f_a - f_b) / total if total != 0 else math.inf
    return vs, m


def rapid_change_significance(
    f_a: float, s_a: float, f_b: float, s_b: float, th: EseThresholds,
    vs_threshold: float | None = None,
) -> float | None:  # fmt: skip
    """|Vs| if the pair passes the 'rapid_change' rule, else None (``vs_threshold``:
    the light curve's |Vs| threshold, default ``th.rapid_vs``)."""
    vs, m = rapid_change(f_a, s_a, f_b, s_b)
    thr = th.rapid_vs if vs_threshold is None else vs_threshold
    if abs(vs) >= thr and abs(m) >= th.rapid_m:
        return abs(vs)
    return None


def rapid_change_significances(
    f_a: ArrayLike, s_a: ArrayLike, f_b: ArrayLike, s_b: ArrayLike, th: EseThresholds,
    vs_threshold: ArrayLike | None = None,
) -> np.ndarray:  # fmt: skip
    """:func:`rapid_change_significance` of many pairs at once (same arithmetic):
    |Vs| where the rule fires, NaN elsewhere (and where an input is NaN)."""
    thr = th.rapid_vs if vs_threshold is None else np.asarray(vs_threshold, dtype=np.float64)
    fa, sa, fb, sb = (np.asarray(v, dtype=np.float64) for v in (f_a, s_a, f_b, s_b))
    with np.errstate(invalid="ignore", divide="ignore"):
        vs = (fa - fb) / np.sqrt(sa * sa + sb * sb)
        total = fa + fb
        m = np.where(total != 0, 2.0 * (fa - fb) / np.where(total != 0, total, 1.0), np.inf)
        fires = (np.abs(vs) >= thr) & (np.abs(m) >= th.rapid_m)
    return np.where(fires, np.abs(vs), np.nan)


def rapid_change_series(f: ArrayLike, s: ArrayLike, th: EseThresholds) -> float | None:
    """Largest |Vs| over consecutive pairs of a time-ordered light curve passing the rule."""
    found = rapid_change_pair(f, s, th)
    return None if found is None else found[1]


def rapid_change_pair(f: ArrayLike, s: ArrayLike, th: EseThresholds) -> tuple[int, float] | None:
    """(index of the first measurement of the pair, |Vs|) of the consecutive pair with
    the largest |Vs| passing the rule (the light curve's threshold), or None."""
    fa = np.asarray(f, dtype=np.float64)
    sa = np.asarray(s, dtype=np.float64)
    thr = float(rapid_threshold(fa.size, th))
    best: tuple[int, float] | None = None
    for i in range(fa.size - 1):
        sig = rapid_change_significance(fa[i], sa[i], fa[i + 1], sa[i + 1], th, thr)
        if sig is not None and (best is None or sig > best[1]):
            best = (i, sig)
    return best


def check_transition(old: str, new: str) -> None:
    """Raise ValueError unless ``old -> new`` is an allowed status change."""
    if new not in STATUSES:
        raise ValueError(f"unknown status {new!r}; choose from {', '.join(STATUSES)}")
    if new not in TRANSITIONS.get(old, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(old, frozenset()))) or "none"
        raise ValueError(f"cannot move a candidate from {old!r} to {new!r} (allowed: {allowed})")


def append_note(
    existing: str | None, text: str, *, author: str, at: float, change: str | None = None
) -> str:
    """The notes with one more dated line; earlier lines are kept verbatim."""
    stamp = datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = f"[{stamp} {author}{' ' + change if change else ''}]"
    line = f"{head} {text.strip()}" if text.strip() else head
    return f"{existing}\n{line}" if existing else line


def deviating_indices(
    f: Sequence[float], s: Sequence[float], mu: float, threshold: float
) -> list[int]:
    """Indices of measurements deviating from ``mu`` by at least ``threshold`` sigma."""
    return [
        i for i, (fi, si) in enumerate(zip(f, s, strict=True)) if abs(fi - mu) / si >= threshold
    ]
