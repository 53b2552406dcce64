"""Simulation sizes: ``ci``, ``demo`` and ``full``.

Every preset keeps what the pipeline relies on: 16 subbands (sb00 highest), the file
names, the header keywords, 24 integrations of 12.884902 s per group and the full
187.5 MHz band. Scaled presets use fewer antennas (a subset of the same T-shaped
layout, so the array keeps its extent and its synthesised beam) and fewer, wider
channels (each averaging ``48 / n_chan`` native channels, so the radiometer noise per
group image is the same as the full array's for the same antennas).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from contimg.errors import ContimgError
from contimg.telescope import DSA110, PRESET_ANTENNAS


@dataclass(frozen=True, slots=True)
class Preset:
    """Sizes of one simulated group.

    Attributes
    ----------
    name : str
        Preset name.
    n_antennas : int
        Antennas written (a subset of the layout's stations).
    n_chan_per_subband : int
        Channels per subband file (divides 48).
    min_apparent_flux_mjy : float
        Sources whose apparent (beam-attenuated) flux never exceeds this in a group
        are left out of that group's visibilities (their sum is far below the noise).
    """

    name: str
    n_antennas: int
    n_chan_per_subband: int
    min_apparent_flux_mjy: float

    @property
    def chan_width_hz(self) -> float:
        return DSA110.subband_width_hz / self.n_chan_per_subband

    @property
    def n_baselines(self) -> int:
        """Cross-correlations plus autocorrelations."""
        return self.n_antennas * (self.n_antennas + 1) // 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    # ci: 24 antennas (276 cross baselines), 4 channels of 2.93 MHz per subband.
    "ci": Preset(
        "ci", n_antennas=PRESET_ANTENNAS["ci"], n_chan_per_subband=4, min_apparent_flux_mjy=0.3
    ),
    # demo: 48 antennas (1128 baselines), 4 channels of 2.93 MHz per subband.
    "demo": Preset(
        "demo", n_antennas=PRESET_ANTENNAS["demo"], n_chan_per_subband=4, min_apparent_flux_mjy=0.3
    ),
    # full: the real sizes.
    "full": Preset(
        "full",
        n_antennas=DSA110.n_antennas_typical,
        n_chan_per_subband=DSA110.n_chan_per_subband,
        min_apparent_flux_mjy=0.05,
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; a clear error for an unknown one."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ContimgError(
            f"unknown simulation preset {name!r}: choose one of {', '.join(PRESETS)}"
        ) from None
