"""ESE rules on simulated light curves (science.md section 4, issue point 6)."""

from __future__ import annotations

import numpy as np
import pytest

from contimg.science.ese import (
    EseThresholds,
    append_note,
    check_transition,
    rapid_change,
    rapid_change_series,
    rapid_change_significance,
    rapid_change_significances,
    variability_significance,
)
from contimg.science.variability import RunningSums

TH = EseThresholds()


def flagged(f: np.ndarray, s: np.ndarray) -> tuple[float | None, float | None]:
    sums = RunningSums()
    sums.extend(f, s)
    st = sums.stats()
    return (
        variability_significance(st.n_obs, st.chi2_nu, st.sigma_deviation, TH),
        rapid_change_series(f, s, TH),
    )


def light_curve(
    rng: np.random.Generator, n: int, snr: float, dip: bool
) -> tuple[np.ndarray, np.ndarray]:
    flux = np.full(n, 100.0)
    if dip:
        start = rng.integers(10, n - 20)
        flux[start : start + 10] *= 0.7
    noise = 100.0 / snr
    # a 1 % residual flux-scale error per epoch, included in the errors (section 2)
    scale = 1.0 + 0.01 * rng.standard_normal(n)
    measured = flux * scale + rng.normal(0, noise, n)
    return measured, np.sqrt(noise**2 + (0.01 * measured) ** 2)


def test_ese_dip_is_flagged_and_constant_sources_are_not() -> None:
    rng = np.random.default_rng(2026)
    n_dips = 50
    for _ in range(n_dips):
        f, s = light_curve(rng, 50, 50.0, dip=True)
        var_sig, rapid_sig = flagged(f, s)
        assert var_sig is not None and var_sig >= 5
        assert rapid_sig is not None and rapid_sig >= 4.3
    false = 0
    for _ in range(1000):
        f, s = light_curve(rng, 50, 50.0, dip=False)
        var_sig, rapid_sig = flagged(f, s)
        false += var_sig is not None or rapid_sig is not None
    assert false <= 1


def test_rules_thresholds() -> None:
    assert variability_significance(4, 10.0, 10.0, TH) is None
    assert variability_significance(5, 3.0, 5.0, TH) == 5.0
    assert variability_significance(5, 2.9, 50.0, TH) is None
    vs, m = rapid_change(100.0, 1.0, 70.0, 1.0)
    assert vs == pytest.approx(30 / np.sqrt(2)) and m == pytest.approx(60 / 170)
    assert rapid_change_series([100.0, 80.0], [1.0, 1.0], TH) is None  # m = 0.22


def test_status_workflow_and_notes() -> None:
    check_transition("active", "investigated")
    check_transition("investigated", "dismissed")
    check_transition("dismissed", "active")
    with pytest.raises(ValueError, match="cannot move"):
        check_transition("active", "active")
    with pytest.raises(ValueError, match="unknown status"):
        check_transition("active", "resolved")
    notes = append_note(None, "first look", author="ana", at=0.0)
    notes = append_note(notes, "scintillation", author="bo", at=60.0, change="active->dismissed")
    assert notes.splitlines() == [
        "[1970-01-01T00:00:00Z ana] first look",
        "[1970-01-01T00:01:00Z bo active->dismissed] scintillation",
    ]


def test_vectorised_rapid_change_equals_the_scalar_rule() -> None:
    rng = np.random.default_rng(4)
    n = 4000
    fa = rng.normal(50, 30, n)
    fb = np.where(rng.random(n) < 0.5, fa * rng.uniform(0.3, 1.7, n), rng.normal(50, 30, n))
    sa, sb = rng.uniform(0.5, 10, n), rng.uniform(0.5, 10, n)
    fb[:10] = -fa[:10]  # f_a + f_b == 0
    fa[10:20] = np.nan  # no previous measurement
    th = EseThresholds()
    many = rapid_change_significances(fa, sa, fb, sb, th)
    fired = 0
    for i in range(n):
        one = None if np.isnan(fa[i]) else rapid_change_significance(fa[i], sa[i], fb[i], sb[i], th)
        if one is None:
            assert np.isnan(many[i]), i
        else:
            fired += 1
            assert many[i] == one, i
    assert fired > 100


def test_the_trials_horizon_bounds_a_light_curves_chance_over_its_life() -> None:
    """The pair test runs again at every new epoch of a growing light curve. Counting
    only the pairs so far, a constant source's chance of ever passing by noise is the
    harmonic sum p (1 + 1/2 + ... + 1/35) ~ 4.1 p over 36 epochs; counting at least the
    horizon's 35 pairs it is at most p (Bonferroni)."""
    from contimg.science.ese import rapid_threshold

    rng = np.random.default_rng(14)
    n_curves, n_epochs, p = 20_000, 36, 1e-2
    f = rng.normal(0.0, 1.0, (n_curves, n_epochs))
    vs = np.abs(np.diff(f, axis=1)) / np.sqrt(2.0)  # pair k is tested with k + 2 points
    n_so_far = np.arange(2, n_epochs + 1)
    rates = {}
    for horizon in (1, n_epochs):
        th = EseThresholds(rapid_vs=1.0, false_alarm=p, trials_horizon=horizon)
        fired = np.any(vs >= rapid_threshold(n_so_far, th)[None, :], axis=1)
        rates[horizon] = float(np.mean(fired))
    assert rates[1] > 3.0 * p, rates
    assert 0.8 * p < rates[n_epochs] <= 1.15 * p, rates
    # once a light curve is longer than the horizon the thresholds are the same
    th = EseThresholds(false_alarm=1e-4, trials_horizon=50)
    assert rapid_threshold([4], th)[0] == rapid_threshold([50], th)[0] > 4.7
    assert (
        rapid_threshold([200], th)[0] == rapid_threshold([200], EseThresholds(false_alarm=1e-4))[0]
    )
