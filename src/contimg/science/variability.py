"""Variability statistics of light curves (science.md section 3), incremental.

Per source, over its good measurements, with f_i, s_i in mJy and w_i = 1/s_i^2:
mean and sample std of f, min, max, ``chi2_nu = sum w (f - mu)^2 / (N - 1)`` with
``mu = sum w f / sum w``, ``eta = N/(N-1) (<w f^2> - <w f>^2/<w>)`` and
``sigma_deviation = max_i |f_i - mu| / s_i``.

Running state (:class:`RunningSums`), updated per new measurement in O(h):

* unweighted sums of ``d = f - K`` and ``d^2``, with ``K`` the source's first
  good flux (a shift that removes the catastrophic cancellation of raw power sums;
  every statistic is shift-invariant);
* weighted sums ``sum w``, ``sum w d``, ``sum w d^2`` (give ``eta``). Since ``K``
  is one of the measurements, ``sum w d^2 = Q + W (mu - K)^2 <= Q (1 + W / w_K)``:
  the cancellation, hence the relative rounding error of ``eta``, is bounded by
  ``eps * (1 + N w_max / w_min)`` (below 1e-10 for N = 1000 epochs and errors
  varying by 10x within a light curve);
* a weighted Welford pair (``mu``, ``Q = sum w (f - mu)^2``) (gives ``chi2_nu``,
  so the two columns are computed independently and cross-check);
* ``sigma_deviation`` exactly, via a convex hull. Each term
  ``|f_i - mu|/s_i = max(p_i . (1, -mu), p_i . (-1, mu))`` with
  ``p_i = (f_i/s_i, 1/s_i)`` is a linear functional of ``p_i``; the maximum of a
  linear functional over a finite set is attained at a vertex of its convex hull,
  and hull(old points + new) = hull(old hull vertices + new). So keeping the hull
  vertices (h of them; h grows like log N for noise-like data) gives the exact
  maximum for whatever ``mu`` becomes later.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike


@dataclass
class VariabilityStats:
    """The statistics of one source (the ``variability_stats`` columns, mJy)."""

    n_obs: int
    mean_flux_mjy: float | None
    std_flux_mjy: float | None
    min_flux_mjy: float | None
    max_flux_mjy: float | None
    chi2_nu: float | None
    eta_metric: float | None
    sigma_deviation: float | None
    weighted_mean_mjy: float | None


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def hull_vertices(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Measurements ``(f, s)`` whose ``(f/s, 1/s)`` are vertices of the convex hull.

    Monotone chain; duplicates and collinear interior points are dropped (they can
    never be the unique maximiser of a linear functional).
    """
    pts = sorted({(f / s, 1.0 / s, f, s) for f, s in points})
    if len(pts) <= 2:
        return [(p[2], p[3]) for p in pts]
    xy = [(p[0], p[1]) for p in pts]
    lower: list[int] = []
    for i in range(len(xy)):
        while len(lower) >= 2 and _cross(xy[lower[-2]], xy[lower[-1]], xy[i]) <= 0:
            lower.pop()
        lower.append(i)
    upper: list[int] = []
    for i in range(len(xy) - 1, -1, -1):
        while len(upper) >= 2 and _cross(xy[upper[-2]], xy[upper[-1]], xy[i]) <= 0:
            upper.pop()
        upper.append(i)
    keep = lower[:-1] + upper[:-1]
    seen: set[int] = set()
    out = []
    for i in keep:
        if i not in seen:
            seen.add(i)
            out.append((pts[i][2], pts[i][3]))
    return out


@dataclass
class RunningSums:
    """Incremental state of one source's light curve (good measurements only)."""

    n: int = 0
    shift_mjy: float = 0.0
    sum_d: float = 0.0
    sum_d2: float = 0.0
    sum_w: float = 0.0
    sum_wd: float = 0.0
    sum_wd2: float = 0.0
    wmean_mjy: float = 0.0
    wm2: float = 0.0
    min_mjy: float = math.inf
    max_mjy: float = -math.inf
    hull: list[tuple[float, float]] = field(default_factory=list)

    def add(self, f_mjy: float, s_mjy: float) -> None:
        """Fold in one good measurement (flux and error in mJy, ``s_mjy > 0``)."""
        if not (s_mjy > 0 and math.isfinite(f_mjy) and math.isfinite(s_mjy)):
            raise ValueError(f"bad measurement f={f_mjy} s={s_mjy}: need finite f and s > 0")
        if self.n == 0:
            self.shift_mjy = f_mjy
        w = 1.0 / (s_mjy * s_mjy)
        d = f_mjy - self.shift_mjy
        self.n += 1
        self.sum_d += d
        self.sum_d2 += d * d
        self.sum_w += w
        self.sum_wd += w * d
        self.sum_wd2 += w * d * d
        delta = f_mjy - self.wmean_mjy
        self.wmean_mjy += (w / self.sum_w) * delta
        self.wm2 += w * delta * (f_mjy - self.wmean_mjy)
        self.min_mjy = min(self.min_mjy, f_mjy)
        self.max_mjy = max(self.max_mjy, f_mjy)
        if not _inside_hull(self.hull, f_mjy, s_mjy):
            self.hull = hull_vertices([*self.hull, (f_mjy, s_mjy)])

    def extend(self, f_mjy: Iterable[float], s_mjy: Iterable[float]) -> None:
        for f, s in zip(f_mjy, s_mjy, strict=True):
            self.add(float(f), float(s))

    def stats(self) -> VariabilityStats:
        """The statistics (see module docstring); spread values are None when N < 2."""
        n = self.n
        if n == 0:
            return VariabilityStats(0, None, None, None, None, None, None, None, None)
        mean = self.shift_mjy + self.sum_d / n
        mu = self.wmean_mjy
        if n < 2:
            return VariabilityStats(n, mean, None, self.min_mjy, self.max_mjy, None, None, None, mu)
        var = max(self.sum_d2 - self.sum_d * self.sum_d / n, 0.0) / (n - 1)
        chi2 = max(self.wm2, 0.0) / (n - 1)
        eta = max(self.sum_wd2 - self.sum_wd * self.sum_wd / self.sum_w, 0.0) / (n - 1)
        sigma_dev = max(abs(f - mu) / s for f, s in self.hull)
        return VariabilityStats(
            n, mean, math.sqrt(var), self.min_mjy, self.max_mjy, chi2, eta, sigma_dev, mu
        )

    # Storage: one JSON text value (see db.queries.variability).
    def to_json(self) -> str:
        return json.dumps(
            {
                "n": self.n,
                "k": self.shift_mjy,
                "sd": self.sum_d,
                "sd2": self.sum_d2,
                "sw": self.sum_w,
                "swd": self.sum_wd,
                "swd2": self.sum_wd2,
                "mu": self.wmean_mjy,
                "m2": self.wm2,
                "min": self.min_mjy if self.n else None,
                "max": self.max_mjy if self.n else None,
                "hull": self.hull,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> RunningSums:
        v = json.loads(text)
        return cls(
            n=int(v["n"]),
            shift_mjy=v["k"],
            sum_d=v["sd"],
            sum_d2=v["sd2"],
            sum_w=v["sw"],
            sum_wd=v["swd"],
            sum_wd2=v["swd2"],
            wmean_mjy=v["mu"],
            wm2=v["m2"],
            min_mjy=math.inf if v["min"] is None else v["min"],
            max_mjy=-math.inf if v["max"] is None else v["max"],
            hull=[(float(a), float(b)) for a, b in v["hull"]],
        )


def _inside_hull(hull: list[tuple[float, float]], f: float, s: float) -> bool:
    """True if (f/s, 1/s) lies strictly inside the polygon of ``hull`` (CCW order)."""
    if len(hull) < 3:
        return False
    p = (f / s, 1.0 / s)
    pts = [(a / b, 1.0 / b) for a, b in hull]
    return all(_cross(pts[i], pts[(i + 1) % len(pts)], p) > 0 for i in range(len(pts)))


def stats_from_scratch(f_mjy: ArrayLike, s_mjy: ArrayLike) -> VariabilityStats:
    """Direct (two-pass) computation of the same statistics, for checks and recompute.

    Parameters
    ----------
    f_mjy, s_mjy : array_like
        Good measurements and their errors (mJy), shape ``(n,)``.
    """
    f = np.asarray(f_mjy, dtype=np.float64)
    s = np.asarray(s_mjy, dtype=np.float64)
    n = int(f.size)
    if n == 0:
        return VariabilityStats(0, None, None, None, None, None, None, None, None)
    w = 1.0 / s**2
    mu = float(np.sum(w * f) / np.sum(w))
    mean = float(np.mean(f))
    if n < 2:
        return VariabilityStats(n, mean, None, float(f.min()), float(f.max()), None, None, None, mu)
    g = f - mu  # eta is shift-invariant: the literal formula on values centred on mu
    eta = n / (n - 1) * (np.mean(w * g**2) - np.mean(w * g) ** 2 / np.mean(w))
    return VariabilityStats(
        n_obs=n,
        mean_flux_mjy=mean,
        std_flux_mjy=float(np.std(f, ddof=1)),
        min_flux_mjy=float(f.min()),
        max_flux_mjy=float(f.max()),
        chi2_nu=float(np.sum(w * (f - mu) ** 2) / (n - 1)),
        eta_metric=max(float(eta), 0.0),
        sigma_deviation=float(np.max(np.abs(f - mu) / s)),
        weighted_mean_mjy=mu,
    )
