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
        f_mjy += 0.0  # -0.0 -> 0.0: min/max of signed zeros differ between Python and numpy
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
        hull = _hull_with(self.hull, f_mjy, s_mjy)
        if hull is not None:
            self.hull = hull

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

    def to_text(self) -> str:
        """The stored form (``variability_sums.state``), see :func:`decode_state`."""
        head = (
            self.n, self.shift_mjy, self.sum_d, self.sum_d2, self.sum_w, self.sum_wd,
            self.sum_wd2, self.wmean_mjy, self.wm2, self.min_mjy, self.max_mjy,
        )  # fmt: skip
        flat = [*head, *(v for pair in self.hull for v in pair)]
        return np.asarray(flat, dtype=_STATE_DTYPE).tobytes().hex()

    @classmethod
    def from_text(cls, text: str) -> RunningSums:
        v = decode_state(text).tolist()
        hull = list(zip(v[11::2], v[12::2], strict=True))
        return cls(int(v[0]), v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], hull)


# Stored running state: one text value, the hexadecimal digits of the little-endian
# IEEE float64 values n, K, sum d, sum d^2, sum w, sum w d, sum w d^2, mu, Q, min, max,
# then the (f, s) pairs of the hull vertices. Exact (every bit kept), and 10,000 states
# are parsed with one ``bytes.fromhex``: decimal text cost ~0.1 s to parse and ~0.1 s to
# format per 10,000 states. States in the earlier format (comma-separated decimal
# floats; a hex state never contains a comma) are still read, and rewritten in this
# one at their next update.
_STATE_DTYPE = np.dtype("<f8")
_HEAD = 11  # scalar fields at the start of a stored state


def _not_a_state(text: str) -> ValueError:
    return ValueError(f"not a running-sums record: {text[:60]!r}")


def _as_hex(text: str) -> str:
    """A stored state in the hex format (converting one in the earlier decimal one)."""
    if "," not in text:
        return text
    try:
        values = np.array(text.split(","), dtype=np.float64)
    except ValueError:
        raise _not_a_state(text) from None
    return values.astype(_STATE_DTYPE).tobytes().hex()


def decode_state(text: str) -> np.ndarray:
    """The float64 values of one stored state (either format), shape ``(11 + 2 h,)``."""
    hex_text = _as_hex(text)
    n_values, rest = divmod(len(hex_text), 16)
    if rest or n_values < _HEAD or (n_values - _HEAD) % 2:
        raise _not_a_state(text)
    try:
        raw = bytes.fromhex(hex_text)
    except ValueError:
        raise _not_a_state(text) from None
    return np.frombuffer(raw, dtype=_STATE_DTYPE).astype(np.float64)


def _hull_with(
    hull: list[tuple[float, float]], f: float, s: float
) -> list[tuple[float, float]] | None:
    """The hull vertices after adding measurement ``(f, s)``; None if unchanged.

    ``hull`` is in counter-clockwise order in the ``(f/s, 1/s)`` plane. A point inside
    the closed polygon leaves it unchanged. A point outside removes the vertices both
    of whose edges it sees (cross product <= 0: such a vertex lies in the triangle of
    its two neighbours and the new point) and takes their place. The edges it sees
    form one chain; if rounding in a near-degenerate hull says otherwise, the hull is
    rebuilt with :func:`hull_vertices`. :func:`update_batch` does the same vectorised,
    with the same arithmetic, so both paths store the same state.
    """
    h = len(hull)
    if h < 3:
        return _small_hull_with(hull, f, s)
    px, py = f / s, 1.0 / s
    xs = [a / b for a, b in hull]
    ys = [1.0 / b for _, b in hull]
    cross = [
        (xs[(k + 1) % h] - xs[k]) * (py - ys[k]) - (ys[(k + 1) % h] - ys[k]) * (px - xs[k])
        for k in range(h)
    ]
    if min(cross) >= 0:
        return None
    sees = [c <= 0 for c in cross]
    ends = [k for k in range(h) if sees[k - 1] and not sees[k]]
    if len(ends) != 1:
        return hull_vertices([*hull, (f, s)])
    b = ends[0]
    rotated = [(b + j) % h for j in range(h)]
    kept = [hull[k] for k in rotated if not (sees[k - 1] and sees[k])]
    return [*kept, (f, s)]


def _small_hull_with(
    hull: list[tuple[float, float]], f: float, s: float
) -> list[tuple[float, float]] | None:
    """:func:`_hull_with` for a hull of 0, 1 or 2 vertices (nothing, a point, a segment)."""
    if not hull:
        return [(f, s)]
    px, py = f / s, 1.0 / s
    ax, ay = hull[0][0] / hull[0][1], 1.0 / hull[0][1]
    if len(hull) == 1:
        return None if (px == ax and py == ay) else [hull[0], (f, s)]
    bx, by = hull[1][0] / hull[1][1], 1.0 / hull[1][1]
    if bx == ax and by == ay:  # two records of one point (a state of the earlier format)
        return _small_hull_with(hull[:1], f, s)
    c = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
    if c > 0:
        return [hull[0], hull[1], (f, s)]
    if c < 0:
        return [hull[0], (f, s), hull[1]]
    # collinear: where the point falls along a -> b
    t = (px - ax) * (bx - ax) + (py - ay) * (by - ay)
    if t < 0:
        return [(f, s), hull[1]]
    if t > (bx - ax) * (bx - ax) + (by - ay) * (by - ay):
        return [hull[0], (f, s)]
    return None


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
    :meth:`RunningSums.stats`, so the new states and statistics are identical (tests
    check it). Hulls that gain the new point are updated vectorised too; only states
    with fewer than 3 hull vertices, or a near-degenerate hull, go through the scalar
    code.

    Parameters
    ----------
    states : sequence of str or None
        Stored states (:meth:`RunningSums.to_text`), None for a new source.
    f_mjy, s_mjy : array_like
        The new measurement of each source (mJy), shape ``(n,)``; ``s_mjy > 0``.

    Returns
    -------
    new_states : list of str
    stats : BatchStats
    """
    f = np.asarray(f_mjy, dtype=np.float64) + 0.0  # -0.0 -> 0.0, as RunningSums.add
    s = np.asarray(s_mjy, dtype=np.float64)
    n_src = f.size
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError("update_batch needs finite fluxes and positive errors")
    if n_src == 0:
        empty = np.zeros(0)
        return [], BatchStats(np.zeros(0, dtype=np.int64), *([empty] * 8))
    texts = [_as_hex(t) if t else "" for t in states]
    lens, rest = np.divmod(np.fromiter(map(len, texts), dtype=np.int64, count=n_src), 16)
    have = lens > 0
    if np.any(rest) or np.any(have & ((lens < _HEAD) | ((lens - _HEAD) % 2 == 1))):
        raise ValueError("a stored running-sums record is corrupt (wrong length)")
    try:
        raw = bytes.fromhex("".join(texts))
    except ValueError:
        raise ValueError("a stored running-sums record is corrupt (not hexadecimal)") from None
    flat = np.frombuffer(raw, dtype=_STATE_DTYPE).astype(np.float64)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    head = np.zeros((n_src, _HEAD))
    head[:, 9] = np.inf
    head[:, 10] = -np.inf
    head[have] = flat[starts[have][:, None] + np.arange(_HEAD)[None, :]]
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

    hf, hs, h = _batch_hulls(flat, starts, np.where(have, (lens - _HEAD) // 2, 0), f, s)
    with np.errstate(invalid="ignore"):
        dev = np.abs(hf - mu[:, None]) / hs
    sigma_dev = np.max(np.where(np.isnan(dev), -np.inf, dev), axis=1)

    # the new states: one (n_src, 11 + 2 h_max) float64 table, each row cut to its hull
    table = np.empty((n_src, _HEAD + 2 * hf.shape[1]), dtype=_STATE_DTYPE)
    table[:, :_HEAD] = np.column_stack(
        [n, shift, sum_d, sum_d2, sum_w, sum_wd, sum_wd2, mu, m2, fmin, fmax]
    )
    table[:, _HEAD::2] = hf
    table[:, _HEAD + 1 :: 2] = hs
    row_bytes = table.shape[1] * 8
    view = memoryview(table.tobytes())
    out = [
        view[i * row_bytes : i * row_bytes + size].hex()
        for i, size in enumerate((8 * (_HEAD + 2 * h)).tolist())
    ]

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


def _batch_hulls(
    flat: np.ndarray, starts: np.ndarray, h: np.ndarray, f: np.ndarray, s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every source's hull after adding its new point: :func:`_hull_with`, vectorised.

    Parameters
    ----------
    flat : ndarray
        The stored states, concatenated; state ``i`` starts at ``starts[i]`` and has
        ``h[i]`` hull vertices.
    f, s : ndarray
        The new measurements, shape ``(n_src,)``.

    Returns
    -------
    hf, hs : ndarray
        Vertex fluxes and errors, shape ``(n_src, h_max)``, NaN beyond each hull.
    h : ndarray
        The new number of vertices, shape ``(n_src,)``.
    """
    n_src = f.size
    h_max = int(h.max())
    width = h_max + 1  # a hull gains at most one vertex
    col = np.arange(width)[None, :]
    valid = col < h[:, None]
    hf = np.full((n_src, width), np.nan)
    hs = np.full((n_src, width), np.nan)
    at = starts[:, None] + _HEAD + 2 * col
    hf[valid] = flat[at[valid]]
    hs[valid] = flat[at[valid] + 1]
    new_h = h.copy()
    scalar = h < 3
    rows = np.flatnonzero(~scalar)
    if rows.size:
        hr = h[rows][:, None]
        v = valid[rows]
        ax, ay = hf[rows] / hs[rows], 1.0 / hs[rows]
        nxt = (col + 1) % hr
        bx = np.take_along_axis(ax, nxt, axis=1)
        by = np.take_along_axis(ay, nxt, axis=1)
        px, py = (f / s)[rows][:, None], (1.0 / s)[rows][:, None]
        with np.errstate(invalid="ignore"):
            cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
            outside = np.any(v & (cross < 0), axis=1)
            sees = v & (cross <= 0)
        sees_prev = np.take_along_axis(sees, (col - 1) % hr, axis=1)
        ends = sees_prev & ~sees & v
        n_ends = ends.sum(axis=1)
        scalar[rows[outside & (n_ends != 1)]] = True
        grow = outside & (n_ends == 1)
        if np.any(grow):
            g = rows[grow]
            hg = hr[grow]
            # walk each hull from the vertex ending the seen chain; drop the vertices
            # both of whose edges are seen; the new point closes the loop
            rot = (np.argmax(ends[grow], axis=1)[:, None] + col) % hg
            drop = (sees & sees_prev)[grow]
            keep = ~np.take_along_axis(drop, rot, axis=1) & valid[g]
            order = np.argsort(np.where(keep, col, width + col), axis=1, kind="stable")
            src = np.take_along_axis(rot, order, axis=1)
            n_keep = keep.sum(axis=1)
            gf = np.take_along_axis(hf[g], src, axis=1)
            gs = np.take_along_axis(hs[g], src, axis=1)
            beyond = col >= n_keep[:, None]
            gf[beyond] = np.nan
            gs[beyond] = np.nan
            gf[np.arange(g.size), n_keep] = f[g]
            gs[np.arange(g.size), n_keep] = s[g]
            hf[g], hs[g] = gf, gs
            new_h[g] = n_keep + 1
    for i in np.flatnonzero(scalar).tolist():
        k = int(h[i])
        old = list(zip(hf[i, :k].tolist(), hs[i, :k].tolist(), strict=True))
        hull = _hull_with(old, float(f[i]), float(s[i]))
        if hull is not None:
            hf[i, :] = np.nan
            hs[i, :] = np.nan
            hf[i, : len(hull)] = [p[0] for p in hull]
            hs[i, : len(hull)] = [p[1] for p in hull]
            new_h[i] = len(hull)
    used = int(new_h.max())
    return hf[:, :used], hs[:, :used], new_h
