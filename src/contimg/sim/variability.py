"""Light curves of simulated sources: constant, ESE-like dips and rapid changes.

A light curve is a plain dict (so the truth file stays machine-readable) evaluated
by :func:`flux_factor`, which returns the factor multiplying the source's mean flux
density at time ``mjd`` (UTC):

- ``{"kind": "constant"}``: 1.
- ``{"kind": "ese", "t_center_mjd", "duration_s", "depth", "edge_boost"}``: an
  extreme-scattering-event-like dip. Inside ``|t - t_center| < duration / 2`` the
  flux drops by ``depth`` (0.1-0.5) with smooth shoulders; at the two edges a
  caustic brightens it by ``edge_boost`` (Gaussian bumps of width 6 % of the
  duration, centred on the edges). Far outside it is 1.
- ``{"kind": "flare" | "drop", "t_center_mjd", "width_s", "amplitude"}``: a rapid
  Gaussian change of relative height ``+amplitude`` (flare) or ``-amplitude`` (drop)
  and 1-sigma width ``width_s`` (about one group).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

SECONDS_PER_DAY = 86_400.0

LightCurve = dict[str, Any]

CONSTANT: LightCurve = {"kind": "constant"}


def _ese(t_s: NDArray[np.float64], lc: LightCurve) -> NDArray[np.float64]:
    half = 0.5 * float(lc["duration_s"])
    x = np.abs(t_s) / half  # 0 at the centre, 1 at the edges
    # Dip profile: flat floor for x < 0.7, cosine shoulders reaching 0 at x = 1.
    shoulder = np.clip((x - 0.7) / 0.3, 0.0, 1.0)
    dip = np.where(x < 1.0, 0.5 * (1.0 + np.cos(np.pi * shoulder)), 0.0)
    edge = np.exp(-0.5 * ((x - 1.0) / 0.12) ** 2)
    return np.asarray(1.0 - float(lc["depth"]) * dip + float(lc["edge_boost"]) * edge)


def flux_factor(lc: LightCurve, mjd: ArrayLike) -> NDArray[np.float64]:
    """Factor on the mean flux density at times ``mjd`` (UTC MJD); same shape as ``mjd``."""
    t = np.asarray(mjd, dtype=np.float64)
    kind = lc.get("kind", "constant")
    if kind == "constant":
        return np.ones_like(t)
    dt_s = (t - float(lc["t_center_mjd"])) * SECONDS_PER_DAY
    if kind == "ese":
        return _ese(dt_s, lc)
    if kind in ("flare", "drop"):
        sign = 1.0 if kind == "flare" else -1.0
        bump = np.exp(-0.5 * (dt_s / float(lc["width_s"])) ** 2)
        return np.asarray(1.0 + sign * float(lc["amplitude"]) * bump)
    raise ValueError(f"unknown light-curve kind {kind!r}")


def ese(*, t_center_mjd: float, duration_s: float, depth: float, edge_boost: float) -> LightCurve:
    """An ESE-like light curve (see the module docstring); ``depth`` in (0, 1)."""
    if not 0.0 < depth < 1.0 or edge_boost < 0.0 or duration_s <= 0.0:
        raise ValueError(
            f"ESE needs 0 < depth < 1, edge_boost >= 0 and a positive duration "
            f"(got {depth}, {edge_boost}, {duration_s} s)"
        )
    return {
        "kind": "ese",
        "t_center_mjd": float(t_center_mjd),
        "duration_s": float(duration_s),
        "depth": float(depth),
        "edge_boost": float(edge_boost),
    }


def make_ese(rng: np.random.Generator, *, t_center_mjd: float, duration_s: float) -> LightCurve:
    """An ESE-like light curve with a random depth (10-50 %) and edge brightening."""
    return ese(
        t_center_mjd=t_center_mjd,
        duration_s=duration_s,
        depth=float(rng.uniform(0.1, 0.5)),
        edge_boost=float(rng.uniform(0.1, 0.3)),
    )


def make_rapid(rng: np.random.Generator, *, t_center_mjd: float, width_s: float) -> LightCurve:
    """A flare or a drop of 35-60 % over about one group."""
    return {
        "kind": str(rng.choice(["flare", "drop"])),
        "t_center_mjd": float(t_center_mjd),
        "width_s": float(width_s),
        "amplitude": float(rng.uniform(0.35, 0.6)),
    }
