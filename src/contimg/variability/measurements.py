"""A good measurement (in mJy) and the ``variability_stats`` row built from it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from contimg.science.flags import BAD_MASK
from contimg.science.variability import VariabilityStats


@dataclass
class Good:
    """One good measurement in mJy."""

    source_id: str
    f_mjy: float
    s_mjy: float
    mjd: float
    measured_at: float
    ra_deg: float
    dec_deg: float
    nvss_flux_mjy: float | None


def stats_row(
    g: Good, st: VariabilityStats, *, last_mjd: float | None, last_at: float | None, now: float
) -> dict[str, Any]:
    """The ``variability_stats`` row of ``g``'s source from its statistics ``st``."""
    return {
        "source_id": g.source_id,
        "ra_deg": g.ra_deg,
        "dec_deg": g.dec_deg,
        "nvss_flux_mjy": g.nvss_flux_mjy,
        "n_obs": st.n_obs,
        "mean_flux_mjy": st.mean_flux_mjy,
        "std_flux_mjy": st.std_flux_mjy,
        "min_flux_mjy": st.min_flux_mjy,
        "max_flux_mjy": st.max_flux_mjy,
        "chi2_nu": st.chi2_nu,
        "sigma_deviation": st.sigma_deviation,
        "eta_metric": st.eta_metric,
        "last_measured_at": last_at,
        "last_mjd": last_mjd,
        "updated_at": now,
    }


def is_good(flags: int | None, err: float | None, peak: float | None) -> bool:
    """Whether a measurement counts for variability: no bad flag, a finite peak, err > 0."""
    return (
        not (int(flags or 0) & BAD_MASK)
        and err is not None
        and err > 0
        and peak is not None
        and math.isfinite(peak)
    )


def nullable(values: np.ndarray) -> list[float | None]:
    """Array -> list with NaN as None (NULL)."""
    out = values.astype(object)
    out[np.isnan(values)] = None
    return list(out.tolist())
