"""Antenna-based corruptions: complex gains, delays and bandpasses that drift slowly.

The Jones term of antenna ``a``, feed ``p`` (0 = X, 1 = Y) at time ``t`` (UTC MJD)
and frequency ``nu`` (Hz) is

    J_ap(t, nu) = g_ap(t) * B_ap(nu, t) * exp(-2 pi i nu tau_ap(t))

- ``g_ap(t) = A_ap (1 + a_ap sin(2 pi dt / P_ap + c_ap))
  * exp(i (phi_ap + r_ap dt_h + s_ap sin(2 pi dt / Q_ap + e_ap)))``: amplitude near 1
  (10 % spread) wandering by ~2 % over hours; phase random with a slow linear drift
  (a few deg/hour) and a slow wave of ~5-15 deg amplitude over 3-8 hours;
- ``tau_ap(t) = tau0_ap + rate_ap dt_days``: delays of a few ns drifting by
  ~0.05 ns/day;
- ``B_ap``: a smooth band shape (low-order Legendre polynomial, 5 % amplitude ripple,
  a few degrees of phase) times the roll-off at each subband's edges (20 % at the
  edge), with a slow phase-slope drift (~0.02 rad/day across the band).

``dt`` runs from the model's ``t0_mjd``. The corruption follows the Measurement Set
convention of CASA and DP3: in an MS written by pyuvdata's ``write_ms`` the
visibility of row ANTENNA1 = i, ANTENNA2 = j is ``J_i V_true conj(J_j)``, so a
calibration solver's gains should equal ``J`` up to one common phase per feed.
(In the UVH5 data, which use pyuvdata's conjugate convention, that is
``conj(J_1) V J_2`` with ``1, 2`` = ``ant_1_array, ant_2_array``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import eval_legendre

from contimg.telescope import DSA110


@dataclass(frozen=True)
class InstrumentModel:
    """Parameters of the corruptions; arrays have shape ``(n_ant, 2)`` unless noted."""

    t0_mjd: float
    amp: NDArray[np.float64]
    amp_wave: NDArray[np.float64]
    amp_period_h: NDArray[np.float64]
    amp_phase: NDArray[np.float64]
    phase0_rad: NDArray[np.float64]
    phase_rate_rad_per_h: NDArray[np.float64]
    phase_wave_rad: NDArray[np.float64]
    phase_period_h: NDArray[np.float64]
    phase_wave_phase: NDArray[np.float64]
    delay0_ns: NDArray[np.float64]
    delay_rate_ns_per_day: NDArray[np.float64]
    bp_amp_coeffs: NDArray[np.float64]
    """Shape ``(n_ant, 2, 5)``: Legendre coefficients of the amplitude ripple."""
    bp_phase_coeffs: NDArray[np.float64]
    """Shape ``(n_ant, 2, 5)``: Legendre coefficients of the phase (rad)."""
    bp_slope_rate_rad_per_day: NDArray[np.float64]
    edge_rolloff: float = 0.2
    enabled: bool = True

    @property
    def n_antennas(self) -> int:
        return int(self.amp.shape[0])

    @classmethod
    def random(
        cls, n_antennas: int, *, seed: int, t0_mjd: float, enabled: bool = True
    ) -> InstrumentModel:
        """A random instrument for ``n_antennas`` antennas (deterministic per seed)."""
        rng = np.random.default_rng([seed, 7])
        shape = (n_antennas, 2)
        return cls(
            t0_mjd=float(t0_mjd),
            amp=rng.normal(1.0, 0.1, shape).clip(0.6, 1.4),
            amp_wave=rng.uniform(0.005, 0.02, shape),
            amp_period_h=rng.uniform(4.0, 12.0, shape),
            amp_phase=rng.uniform(0, 2 * np.pi, shape),
            phase0_rad=rng.uniform(-np.pi, np.pi, shape),
            phase_rate_rad_per_h=np.radians(rng.normal(0.0, 3.0, shape)),
            phase_wave_rad=np.radians(rng.uniform(5.0, 15.0, shape)),
            phase_period_h=rng.uniform(3.0, 8.0, shape),
            phase_wave_phase=rng.uniform(0, 2 * np.pi, shape),
            delay0_ns=rng.normal(0.0, 3.0, shape),
            delay_rate_ns_per_day=rng.normal(0.0, 0.05, shape),
            bp_amp_coeffs=rng.normal(0.0, 0.05, (*shape, 5)) / np.arange(1, 6),
            bp_phase_coeffs=np.radians(rng.normal(0.0, 4.0, (*shape, 5))),
            bp_slope_rate_rad_per_day=rng.normal(0.0, 0.02, shape),
            enabled=enabled,
        )

    # ------------------------------------------------------------------ evaluation
    def gains(self, mjd: NDArray[np.float64] | float) -> NDArray[np.complex128]:
        """Frequency-independent gains ``g``, shape ``(n_times, n_ant, 2)``."""
        t = np.atleast_1d(np.asarray(mjd, dtype=np.float64))
        if not self.enabled:
            return np.ones((t.size, self.n_antennas, 2), dtype=np.complex128)
        dt_h = ((t - self.t0_mjd) * 24.0)[:, None, None]
        amp = self.amp * (
            1 + self.amp_wave * np.sin(2 * np.pi * dt_h / self.amp_period_h + self.amp_phase)
        )
        ph = (
            self.phase0_rad
            + self.phase_rate_rad_per_h * dt_h
            + self.phase_wave_rad
            * np.sin(2 * np.pi * dt_h / self.phase_period_h + self.phase_wave_phase)
        )
        return np.asarray(amp * np.exp(1j * ph), dtype=np.complex128)

    def delays_ns(self, mjd: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """Delays ``tau`` (ns), shape ``(n_times, n_ant, 2)``."""
        t = np.atleast_1d(np.asarray(mjd, dtype=np.float64))
        if not self.enabled:
            return np.zeros((t.size, self.n_antennas, 2))
        dt_d = (t - self.t0_mjd)[:, None, None]
        return np.asarray(self.delay0_ns + self.delay_rate_ns_per_day * dt_d)

    def bandpass(self, freq_hz: NDArray[np.float64], mjd: float) -> NDArray[np.complex128]:
        """Bandpass ``B`` (without delay), shape ``(n_ant, 2, n_freq)``."""
        f = np.asarray(freq_hz, dtype=np.float64)
        if not self.enabled:
            return np.ones((self.n_antennas, 2, f.size), dtype=np.complex128)
        x = (f - DSA110.centre_freq_hz) / (0.5 * (DSA110.band_high_hz - DSA110.band_low_hz))
        leg = np.stack([eval_legendre(k + 1, x) for k in range(5)])  # (5, n_freq)
        amp = 1.0 + np.einsum("apk,kf->apf", self.bp_amp_coeffs, leg)
        ph = np.einsum("apk,kf->apf", self.bp_phase_coeffs, leg)
        ph = ph + (self.bp_slope_rate_rad_per_day * (mjd - self.t0_mjd))[:, :, None] * x
        # Roll-off at both edges of each subband.
        pos = ((DSA110.band_high_hz - f) / DSA110.subband_width_hz) % 1.0  # 0..1 inside subband
        y = 2 * pos - 1
        roll = 1.0 - self.edge_rolloff * np.abs(y) ** 8
        return np.asarray(amp * roll * np.exp(1j * ph), dtype=np.complex128)

    def jones(
        self, mjd: NDArray[np.float64], freq_hz: NDArray[np.float64]
    ) -> NDArray[np.complex128]:
        """Full ``J``, shape ``(n_times, n_ant, 2, n_freq)``."""
        t = np.atleast_1d(np.asarray(mjd, dtype=np.float64))
        f = np.asarray(freq_hz, dtype=np.float64)
        g = self.gains(t)[..., None]
        tau_s = self.delays_ns(t)[..., None] * 1e-9
        bp = self.bandpass(f, float(np.mean(t)))[None]
        return np.asarray(g * bp * np.exp(-2j * np.pi * tau_s * f), dtype=np.complex128)

    # ------------------------------------------------------------------ truth I/O
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            v = getattr(self, name)
            out[name] = v.tolist() if isinstance(v, np.ndarray) else v
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InstrumentModel:
        kw: dict[str, Any] = {}
        for name, f in cls.__dataclass_fields__.items():
            v = d[name]
            kw[name] = np.asarray(v, dtype=np.float64) if isinstance(v, list) else v
            del f
        return cls(**kw)
