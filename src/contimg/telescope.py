"""The DSA-110 description: every telescope fact the pipeline relies on, in one place.

Numbers follow the project's telescope notes (checked against real data products).
Frequencies are in Hz, times in seconds, angles in degrees unless a name says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class Site:
    """Geodetic position of the array centre (WGS84)."""

    lat_deg: float = 37.2314
    lon_deg: float = -118.2817  # east-positive: 118.2817 deg W
    height_m: float = 1222.0


@dataclass(frozen=True, slots=True)
class Telescope:
    """DSA-110 as the pipeline sees it.

    Subband ``sb00`` is the highest-frequency subband; channels inside every
    subband run in ascending frequency; a Measurement Set made from a group is
    in ascending frequency overall (``sb15`` first).
    """

    name: str = "DSA-110"
    site: Site = field(default_factory=Site)
    dish_diameter_m: float = 4.65
    n_subbands: int = 16
    n_chan_per_subband: int = 48
    chan_width_hz: float = 244_140.625
    band_low_hz: float = 1311.25e6
    band_high_hz: float = 1498.75e6
    polarisations: tuple[str, ...] = ("XX", "XY", "YX", "YY")
    integration_s: float = 12.884902
    n_integrations_per_group: int = 24
    sefd_jy: float = 11_600.0
    system_temperature_k: float = 50.0
    aperture_efficiency: float = 0.7
    n_stations: int = 117
    n_antennas_typical: int = 96
    pb_cut: float = 0.2
    """Primary-beam response below which pb-corrected pixels are blanked."""

    @property
    def subband_width_hz(self) -> float:
        return self.n_chan_per_subband * self.chan_width_hz

    @property
    def group_duration_s(self) -> float:
        """Sky time covered by one group (~309 s)."""
        return self.n_integrations_per_group * self.integration_s

    @property
    def centre_freq_hz(self) -> float:
        return 0.5 * (self.band_low_hz + self.band_high_hz)

    def subband_channel_freqs_hz(self, subband: int, n_chan: int | None = None) -> np.ndarray:
        """Channel centre frequencies (Hz, ascending) of subband ``subband`` (0 = highest).

        ``n_chan`` < 48 gives a scaled-down subband with the same span: each coarse
        channel averages ``48 / n_chan`` native channels.
        """
        if not 0 <= subband < self.n_subbands:
            raise ValueError(f"subband index {subband} is outside 0..{self.n_subbands - 1}")
        n = self.n_chan_per_subband if n_chan is None else n_chan
        if n < 1 or self.n_chan_per_subband % n:
            raise ValueError(f"n_chan={n} must divide {self.n_chan_per_subband}")
        lo = self.band_high_hz - (subband + 1) * self.subband_width_hz
        width = self.subband_width_hz / n
        return lo + width * (np.arange(n) + 0.5)

    def primary_beam_fwhm_deg(self, freq_hz: float) -> float:
        """FWHM of the Airy primary beam (1.029 lambda / D), degrees."""
        wavelength_m = 299_792_458.0 / freq_hz
        return float(np.degrees(1.028993 * wavelength_m / self.dish_diameter_m))

    def thermal_noise_jy(self, *, chan_width_hz: float, integration_s: float) -> float:
        """Radiometer rms of one visibility (one polarisation product, Jy)."""
        return self.sefd_jy / float(np.sqrt(2.0 * chan_width_hz * integration_s))


DSA110 = Telescope()
"""The one telescope description every module imports."""

PRESET_ANTENNAS: dict[str, int] = {"ci": 24, "demo": 48, "full": DSA110.n_antennas_typical}
"""Antennas of each simulator preset's array (``contimg.sim.presets.PRESETS`` uses these;
``imaging.preset`` names the one being imaged)."""
