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
