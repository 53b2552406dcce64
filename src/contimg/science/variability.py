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


def hull_vertices(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Measurements ``(f, s)`` whose ``(f/s, 1/s)`` are vertices of the convex hull.

    Monotone chain; duplicates and collinear interior points are dropped (they can
    never be the unique maximiser of a linear functional).
    """
    pts = sorted({(f / s, 1.0 / s, f, s) for f, s in points})
    if len(pts) <= 2:
        return [(p[2], p[3]) for p in pts]

    def chain(
        seq: Sequence[tuple[float, float, float, float]],
    ) -> list[tuple[float, float, float, float]]:
        out: list[tuple[float, float, float, float]] = []
        for p in seq:
            px, py = p[0], p[1]
            while len(out) >= 2:
                o, a = out[-2], out[-1]
                if (a[0] - o[0]) * (py - o[1]) - (a[1] - o[1]) * (px - o[0]) > 0:
                    break
                out.pop()
            out.append(p)
        return out

    lower = chain(pts)
    upper = chain(pts[::-1])
    hull = lower[:-1] + upper[:-1]
    seen: set[tuple[float, float, float, float]] = set()
    result = []
    for p in hull:
        if p not in seen:
            seen.add(p)
            result.append((p[2], p[3]))
    return result


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

    # Storage: one text value, comma-separated floats (repr round-trips exactly):
    # n, K, sum d, sum d^2, sum w, sum w d, sum w d^2, mu, Q, min, max, then (f, s) pairs
    # of the hull vertices. Several times faster to read and write than JSON.
    def to_json(self) -> str:
        head = (
            self.n, self.shift_mjy, self.sum_d, self.sum_d2, self.sum_w, self.sum_wd,
            self.sum_wd2, self.wmean_mjy, self.wm2, self.min_mjy, self.max_mjy,
        )  # fmt: skip
        flat = [*head, *(v for pair in self.hull for v in pair)]
        return ",".join(map(repr, flat))

    @classmethod
    def from_json(cls, text: str) -> RunningSums:
        v = [float(x) for x in text.split(",")]
        if len(v) < 11 or (len(v) - 11) % 2:
            raise ValueError(f"not a running-sums record: {text[:60]!r}")
        hull = list(zip(v[11::2], v[12::2], strict=True))
        return cls(int(v[0]), v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], hull)


def _inside_hull(hull: list[tuple[float, float]], f: float, s: float) -> bool:
    """True if (f/s, 1/s) lies strictly inside the polygon of ``hull`` (CCW order)."""
    n = len(hull)
    if n < 3:
        return False
    px, py = f / s, 1.0 / s
    a, b = hull[-1]
    ax, ay = a / b, 1.0 / b
    for c, d in hull:
        bx, by = c / d, 1.0 / d
        if (bx - ax) * (py - ay) - (by - ay) * (px - ax) <= 0:
            return False
        ax, ay = bx, by
    return True


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


_HEAD = 11  # scalar fields at the start of a stored state


@dataclass
class BatchStats:
    """Statistics of many sources after :func:`update_batch`, arrays of shape ``(n,)``;
    NaN where a value is undefined (N < 2)."""

    n_obs: np.ndarray
    mean_flux_mjy: np.ndarray
    std_flux_mjy: np.ndarray
    min_flux_mjy: np.ndarray
    max_flux_mjy: np.ndarray
    chi2_nu: np.ndarray
    eta_metric: np.ndarray
    sigma_deviation: np.ndarray
    weighted_mean_mjy: np.ndarray


def update_batch(
    states: Sequence[str | None], f_mjy: ArrayLike, s_mjy: ArrayLike
) -> tuple[list[str], BatchStats]:
    """Add one good measurement to each of many stored states, vectorised.

    Same arithmetic, in the same order, as :meth:`RunningSums.add` followed by
    :meth:`RunningSums.stats` (tests check equality); only states whose new point
    falls outside their hull rebuild it in Python.

    Parameters
    ----------
    states : sequence of str or None
        Stored states (:meth:`RunningSums.to_json`), None for a new source.
    f_mjy, s_mjy : array_like
        The new measurement of each source (mJy), shape ``(n,)``; ``s_mjy > 0``.

    Returns
    -------
    new_states : list of str
    stats : BatchStats
    """
    f = np.asarray(f_mjy, dtype=np.float64)
    s = np.asarray(s_mjy, dtype=np.float64)
    n_src = f.size
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError("update_batch needs finite fluxes and positive errors")
    if n_src == 0:
        empty = np.zeros(0)
        return [], BatchStats(np.zeros(0, dtype=np.int64), *([empty] * 8))
    texts = [t or "" for t in states]
    lens = np.array([t.count(",") + 1 if t else 0 for t in texts], dtype=np.int64)
    joined = ",".join(t for t in texts if t)
    flat = np.fromstring(joined, dtype=np.float64, sep=",") if joined else np.zeros(0)
    if flat.size != int(lens.sum()):
        raise ValueError("a stored running-sums record is corrupt (not comma-separated floats)")
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    head = np.zeros((n_src, _HEAD))
    head[:, 9] = np.inf
    head[:, 10] = -np.inf
    have = lens > 0
    idx = starts[have][:, None] + np.arange(_HEAD)[None, :]
    head[have] = flat[idx]
    n_old = head[:, 0]
    shift = np.where(n_old == 0, f, head[:, 1])
    w = 1.0 / (s * s)
    d = f - shift
    n = n_old + 1
    sum_d = head[:, 2] + d
    sum_d2 = head[:, 3] + d * d
    sum_w = head[:, 4] + w
    sum_wd = head[:, 5] + w * d
    sum_wd2 = head[:, 6] + w * d * d
    delta = f - head[:, 7]
    mu = head[:, 7] + (w / sum_w) * delta
    m2 = head[:, 8] + w * delta * (f - mu)
    fmin = np.minimum(head[:, 9], f)
    fmax = np.maximum(head[:, 10], f)

    # hulls, padded: (n_src, h_max) arrays of vertex f and s
    h = np.where(have, (lens - _HEAD) // 2, 0)
    h_max = int(h.max()) if n_src else 0
    hf = np.full((n_src, max(h_max, 1)), np.nan)
    hs = np.full((n_src, max(h_max, 1)), np.nan)
    if h_max:
        col = np.arange(h_max)[None, :]
        valid = col < h[:, None]
        base = starts[:, None] + _HEAD + 2 * col
        hf[valid] = flat[base[valid]]
        hs[valid] = flat[base[valid] + 1]
    px, py = f / s, 1.0 / s
    inside = h >= 3
    if h_max >= 3:
        ax, ay = hf / hs, 1.0 / hs
        nxt = (np.arange(h_max)[None, :] + 1) % np.maximum(h[:, None], 1)
        bx = np.take_along_axis(ax, nxt, axis=1)
        by = np.take_along_axis(ay, nxt, axis=1)
        cross = (bx - ax) * (py[:, None] - ay) - (by - ay) * (px[:, None] - ax)
        ok = np.where(np.arange(h_max)[None, :] < h[:, None], cross > 0, True)
        inside &= np.all(ok, axis=1)
    with np.errstate(invalid="ignore"):
        dev = np.abs(hf - mu[:, None]) / hs
    sigma_dev = np.where(inside, np.nanmax(np.where(np.isnan(dev), -np.inf, dev), axis=1), np.nan)

    new_hull_text: dict[int, str] = {}
    for i in np.flatnonzero(~inside).tolist():
        old = list(zip(hf[i, : h[i]].tolist(), hs[i, : h[i]].tolist(), strict=True))
        hull = hull_vertices([*old, (float(f[i]), float(s[i]))])
        new_hull_text[i] = ",".join(repr(v) for pair in hull for v in pair)
        mui = float(mu[i])
        sigma_dev[i] = max(abs(a - mui) / b for a, b in hull)

    out: list[str] = []
    heads = np.column_stack(
        [n, shift, sum_d, sum_d2, sum_w, sum_wd, sum_wd2, mu, m2, fmin, fmax]
    ).tolist()
    for i in range(n_src):
        hv = heads[i]
        hv[0] = int(hv[0])
        hull_text = new_hull_text.get(i)
        if hull_text is None:
            hull_text = texts[i].split(",", _HEAD)[_HEAD]
        out.append(",".join(map(repr, hv)) + "," + hull_text)

    with np.errstate(invalid="ignore", divide="ignore"):
        many = n >= 2
        nm1 = np.where(many, n - 1, np.nan)
        var = np.maximum(sum_d2 - sum_d * sum_d / n, 0.0) / nm1
        stats = BatchStats(
            n_obs=n.astype(np.int64),
            mean_flux_mjy=shift + sum_d / n,
            std_flux_mjy=np.sqrt(var),
            min_flux_mjy=fmin,
            max_flux_mjy=fmax,
            chi2_nu=np.maximum(m2, 0.0) / nm1,
            eta_metric=np.maximum(sum_wd2 - sum_wd * sum_wd / sum_w, 0.0) / nm1,
            sigma_deviation=np.where(many, sigma_dev, np.nan),
            weighted_mean_mjy=mu,
        )
    return out, stats
