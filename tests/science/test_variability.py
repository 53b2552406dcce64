"""Incremental variability statistics equal a from-scratch recompute (1e-9 relative)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contimg.science.variability import (
    RunningSums,
    VariabilityStats,
    hull_vertices,
    stats_from_scratch,
    update_batch,
)

FIELDS = (
    "mean_flux_mjy",
    "std_flux_mjy",
    "min_flux_mjy",
    "max_flux_mjy",
    "chi2_nu",
    "eta_metric",
    "sigma_deviation",
    "weighted_mean_mjy",
)


def assert_same(a: VariabilityStats, b: VariabilityStats, f: np.ndarray, s: np.ndarray) -> None:
    """1e-9 relative; values that are exactly zero in exact arithmetic (a constant light
    curve) are compared with an absolute tolerance of 1e-9 of their natural scale."""
    assert a.n_obs == b.n_obs
    flux_scale = float(np.max(np.abs(f))) if f.size else 1.0
    spread_scale = {
        "std_flux_mjy": flux_scale,
        "chi2_nu": float(np.max((f / s) ** 2)) if f.size else 1.0,
        "eta_metric": float(np.max((f / s) ** 2)) if f.size else 1.0,
        "sigma_deviation": float(np.max(np.abs(f) / s)) if f.size else 1.0,
    }
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if x is None or y is None:
            assert x is None and y is None, name
            continue
        abs_tol = 1e-12 * spread_scale.get(name, flux_scale)
        assert math.isclose(x, y, rel_tol=1e-9, abs_tol=abs_tol), (name, x, y)


# fluxes on a 1 nJy grid: sub-nJy values (down to denormals) have no physical meaning
flux = st.floats(min_value=-1e3, max_value=1e5, allow_nan=False, allow_infinity=False).map(
    lambda v: round(v, 6)
)
err = st.floats(min_value=1e-2, max_value=1e2, allow_nan=False, allow_infinity=False)
rel_err = st.floats(min_value=1.0, max_value=10.0, allow_nan=False, allow_infinity=False)
# One source's errors vary within a factor 10 (primary-beam position, image noise); the
# error bound of eta is eps * (1 + N w_max / w_min), see the module docstring.
series = st.tuples(err, st.lists(st.tuples(flux, rel_err), min_size=0, max_size=60))


@settings(max_examples=300, deadline=None)
@given(series, st.data())
def test_incremental_equals_from_scratch(
    curve: tuple[float, list[tuple[float, float]]], data: st.DataObject
) -> None:
    base_err, raw = curve
    pairs = [(ff, base_err * r) for ff, r in raw]
    f = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs])
    sums = RunningSums()
    # fold in image by image, through the text round trip the database uses
    i = 0
    while i < len(pairs):
        step = data.draw(st.integers(1, 5))
        for ff, ss in pairs[i : i + step]:
            sums.add(ff, ss)
        sums = RunningSums.from_text(sums.to_text())
        i += step
        assert_same(sums.stats(), stats_from_scratch(f[:i], s[:i]), f[:i], s[:i])
    assert_same(sums.stats(), stats_from_scratch(f, s), f, s)


@settings(max_examples=100, deadline=None)
@given(st.floats(1.0, 1e4), st.lists(err, min_size=2, max_size=40))
def test_constant_and_nearly_constant_curves(level: float, errs: list[float]) -> None:
    """No catastrophic cancellation: a bright steady source with tiny scatter."""
    rng = np.random.default_rng(len(errs))
    f = level * (1 + 1e-7 * rng.standard_normal(len(errs)))
    s = np.array(errs)
    sums = RunningSums()
    sums.extend(f, s)
    assert_same(sums.stats(), stats_from_scratch(f, s), f, s)


def test_chi2_and_eta_cross_check_and_short_curves() -> None:
    rng = np.random.default_rng(1)
    f = 100 + rng.normal(0, 2, 30)
    s = rng.uniform(1, 3, 30)
    sums = RunningSums()
    sums.extend(f, s)
    st_ = sums.stats()
    assert st_.chi2_nu is not None and st_.eta_metric is not None
    assert math.isclose(st_.chi2_nu, st_.eta_metric, rel_tol=1e-9)
    one = RunningSums()
    one.add(5.0, 1.0)
    o = one.stats()
    assert o.n_obs == 1 and o.mean_flux_mjy == 5.0 and o.min_flux_mjy == 5.0
    assert o.std_flux_mjy is None and o.chi2_nu is None and o.sigma_deviation is None
    assert RunningSums().stats().mean_flux_mjy is None


def test_batch_update_of_nothing() -> None:
    states, stats = update_batch([], np.zeros(0), np.zeros(0))
    assert states == [] and stats.n_obs.size == 0


def test_hull_stays_small_for_noise() -> None:
    rng = np.random.default_rng(2)
    sums = RunningSums()
    sums.extend(100 + rng.normal(0, 1, 5000), rng.uniform(0.9, 1.1, 5000))
    assert len(sums.hull) < 40
    assert len(hull_vertices([(1.0, 1.0), (1.0, 1.0)])) == 1


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.tuples(flux, rel_err), min_size=1, max_size=12), min_size=1, max_size=8)
)
def test_batch_update_equals_one_by_one(curves: list[list[tuple[float, float]]]) -> None:
    """update_batch (the stage's vectorised path) gives the same states and statistics."""
    states: list[str | None] = [None] * len(curves)
    singles = [RunningSums() for _ in curves]
    for epoch in range(max(len(c) for c in curves)):
        idx = [i for i, c in enumerate(curves) if epoch < len(c)]
        f = np.array([curves[i][epoch][0] for i in idx])
        s = np.array([curves[i][epoch][1] for i in idx])
        new, stats = update_batch([states[i] for i in idx], f, s)
        for k, i in enumerate(idx):
            states[i] = new[k]
            singles[i].add(float(f[k]), float(s[k]))
            one = singles[i].stats()
            assert new[k] == singles[i].to_text()
            assert RunningSums.from_text(new[k]).stats() == one
            for name in FIELDS:
                a, b = getattr(one, name), float(getattr(stats, name)[k])
                if a is None:
                    assert math.isnan(b), name
                else:
                    assert a == b or math.isclose(a, b, rel_tol=1e-12), (name, a, b)


def _one_by_one_and_batched(f: np.ndarray, s: np.ndarray) -> tuple[list[RunningSums], list[str]]:
    """Fold ``f``, ``s`` (shape ``(n_epochs, n_src)``) in source by source and image by
    image through update_batch."""
    singles = [RunningSums() for _ in range(f.shape[1])]
    states: list[str | None] = [None] * f.shape[1]
    for e in range(f.shape[0]):
        new, _ = update_batch(states, f[e], s[e])
        states = list(new)
        for i, one in enumerate(singles):
            one.add(float(f[e, i]), float(s[e, i]))
    return singles, [str(t) for t in states]


def test_batch_hulls_are_the_convex_hulls() -> None:
    """Noise-like and degenerate light curves (repeated values, equal errors, collinear
    points): the batch path keeps the same state as the scalar one, and the kept points
    are exactly the vertices of the convex hull of all measurements."""
    rng = np.random.default_rng(5)
    n_epochs, n_src = 60, 300
    f = 100 + rng.normal(0, 1, (n_epochs, n_src))
    s = rng.uniform(0.9, 1.1, (n_epochs, n_src))
    f[:, :20] = np.round(f[:, :20])  # many repeats of the same few points
    s[:, :20] = np.round(s[:, :20] * 4) / 4
    s[:, 20:40] = 1.0  # all points on the line y = 1
    f[:, 40:60] = 5.0 * s[:, 40:60]  # all points on the line x = 5
    f[::7, 60:80] += 30.0 * rng.choice([-1, 1], (9, 20))  # outliers: hulls keep changing
    singles, states = _one_by_one_and_batched(f, s)
    for i, (one, text) in enumerate(zip(singles, states, strict=True)):
        assert text == one.to_text(), i
        truth = hull_vertices(list(zip(f[:, i].tolist(), s[:, i].tolist(), strict=True)))
        assert {(a / b, 1 / b) for a, b in one.hull} == {(a / b, 1 / b) for a, b in truth}, i
        scratch = stats_from_scratch(f[:, i], s[:, i])
        assert_same(one.stats(), scratch, f[:, i], s[:, i])


def test_states_of_the_earlier_decimal_format_are_read() -> None:
    rng = np.random.default_rng(6)
    f = 100 + rng.normal(0, 1, (12, 5))
    s = rng.uniform(0.9, 1.1, (12, 5))
    singles, states = _one_by_one_and_batched(f, s)
    decimal = [
        ",".join(
            repr(v)
            for v in [
                one.n, one.shift_mjy, one.sum_d, one.sum_d2, one.sum_w, one.sum_wd, one.sum_wd2,
                one.wmean_mjy, one.wm2, one.min_mjy, one.max_mjy,
                *(x for pair in one.hull for x in pair),
            ]
        )
        for one in singles
    ]  # fmt: skip
    assert [RunningSums.from_text(t) for t in decimal] == singles
    f_new, s_new = np.full(5, 130.0), np.full(5, 1.0)
    assert update_batch(decimal, f_new, s_new)[0] == update_batch(states, f_new, s_new)[0]


@pytest.mark.parametrize("bad", ["1,2,3", "zz" * 88, "00" * 8 * 12, "1.0,x" + ",1" * 10])
def test_corrupt_states_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"corrupt|not a running-sums record"):
        update_batch([bad], np.ones(1), np.ones(1))
    with pytest.raises(ValueError, match="not a running-sums record"):
        RunningSums.from_text(bad)
