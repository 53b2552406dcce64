"""Settings for every contimg process.

All settings come from (highest priority first) explicit arguments / CLI options,
environment variables with the prefix ``CONTIMG_``, and the defaults below.
Nothing here touches the file system or a database: :func:`get_settings` only
builds a value object. Directories are created by the commands that need them.

Nested sections use a double underscore in environment variables, e.g.
``CONTIMG_INGEST__GROUP_TOLERANCE_S=90``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATABASE_NAMES: tuple[str, ...] = ("ingest", "cal_registry", "products", "master_sources")
"""The four databases of the specification, in dependency order."""

SQLITE_FILES: dict[str, str] = {
    "ingest": "ingest.sqlite3",
    "cal_registry": "cal_registry.sqlite3",
    "products": "products.sqlite3",
    "master_sources": "db/master_sources.sqlite3",
}
"""File names of the SQLite databases, relative to the state directory (spec)."""


def absolute_path(path: Path | str) -> Path:
    """``path`` absolute and normalised: ``~`` expanded, relative to the current working
    directory, symbolic links resolved (the file need not exist yet)."""
    return Path(path).expanduser().resolve()


class IngestSettings(BaseModel):
    """How subband files become groups."""

    group_tolerance_s: float = Field(
        60.0, gt=0, description="Files whose timestamps lie within this many seconds form a group."
    )
    expected_subbands: int = Field(16, ge=1, le=16)
    stable_checks: int = Field(
        2, ge=1, description="Consecutive scans with an unchanged size before a file is taken."
    )
    collect_timeout_s: float = Field(
        900.0, gt=0, description="A group still incomplete after this long is resolved by policy."
    )
    incomplete_policy: Literal["fail", "proceed"] = Field(
        "fail", description="'fail' an incomplete group, or 'proceed' with the subbands it has."
    )
    rescan_interval_s: float = Field(
        30.0, gt=0, description="Period of the full directory rescan beside inotify events."
    )
    settle_s: float = Field(
        2.0, gt=0, description="Delay between the size checks of a new file (watch mode)."
    )
    calibrator_matcher: str | None = Field(
        None,
        description="'module:function' called when a group becomes pending, to match "
        "calibrator transits (see docs/ingest.md); a matcher registered in code also works.",
    )


class ConversionSettings(BaseModel):
    """UVH5 group -> Measurement Set (docs/imaging.md, "Full-size groups")."""

    max_chan_width_khz: float = Field(
        1000.0,
        ge=0,
        description="Average adjacent channels while converting, as many as keep the channel "
        "at most this wide (0: never average). DSA-110's 48 channels of 244 kHz per subband "
        "become 12 of 977 kHz: 4x less to calibrate and image, and a bandwidth smearing loss "
        "of ~2.6 % at the primary-beam half-power radius. Channels already wider are kept.",
    )
    processes: int = Field(
        2,
        ge=1,
        description="Subbands converted at a time, each in its own process (~1 GB of memory "
        "each at full size), for files of 64 MB or more (smaller ones, as the scaled simulator "
        "presets write, one at a time). 2 on a 2-core machine with one worker: a full-size "
        "group in 44 s instead of 53-67 s.",
    )


class WorkerSettings(BaseModel):
    """How workers claim and process groups."""

    lease_s: float = Field(120.0, gt=0, description="A claimed group's lease length.")
    heartbeat_s: float = Field(20.0, gt=0, description="How often a worker renews its lease.")
    max_retries: int = Field(3, ge=0)
    backoff_base_s: float = Field(30.0, ge=0, description="Retry n waits base * 2**(n-1) s.")
    poll_interval_s: float = Field(2.0, gt=0)
    builtin_stages: bool = Field(True, description="Run the built-in pipeline stages.")
    stage_modules: list[str] = Field(
        default_factory=list,
        description="Extra modules to import that register stages (plug-ins, tests).",
    )
    min_free_gb: float = Field(
        2.0,
        ge=0,
        description="Workers claim nothing while the products or scratch directory has less "
        "free space than this (GB, 1e9 bytes); they resume by themselves (0: never pause).",
    )
    scratch_dir: Path | None = Field(
        None,
        description="Scratch space the disk guard also watches; default the system "
        "temporary directory (TMPDIR).",
    )


class ApiSettings(BaseModel):
    """The dashboard server."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    write_token: str | None = Field(
        None, description="Bearer token for writes; generated and printed on first run if unset."
    )
    require_token_for_reads: bool = False
    extra_file_roots: list[Path] = Field(
        default_factory=list,
        description="Directories besides the products directory that files may be served from.",
    )
    events_poll_s: float = Field(
        1.0, gt=0, le=60, description="How often the live-events task polls the databases."
    )
    events_keepalive_s: float = Field(
        15.0, gt=0, description="A comment line is sent on idle event streams this often."
    )
    sqlite_mmap_mb: int = Field(
        256, ge=0, description="SQLite files memory-mapped by the server (0: off)."
    )


class CatalogSettings(BaseModel):
    """The master sources catalog (NVSS x FIRST x VLASS); see docs/catalog.md."""

    match_radius_arcsec: float = Field(
        7.5, gt=0, le=120, description="FIRST/VLASS partners are matched to NVSS within this."
    )
    resolved_major_arcsec: float = Field(
        6.0, gt=0, description="A FIRST deconvolved major axis above this marks 'resolved'."
    )


class CalibrationSettings(BaseModel):
    """Calibrator transits, solving with DP3 and the calibration registry (docs/calibration.md)."""

    calibrators_csv: Path | None = Field(
        None, description="Calibrator CSV (name,ra_deg,dec_deg,flux_jy); default: shipped list."
    )
    transit_max_sep_deg: float = Field(
        1.5, gt=0, description="A calibrator transits when it passes this close to the pointing."
    )
    min_flux_jy: float = Field(
        1.0,
        ge=0,
        description="Weakest calibrator to match: apparent 1.4 GHz flux (list flux x Airy "
        "response at its closest approach), Jy.",
    )
    pointing_match_deg: float = Field(
        0.5,
        gt=0,
        description="A set applies only to groups whose pointing Dec is this close to the "
        "pointing it was solved at.",
    )
    transit_wait_margin_h: float = Field(
        1.0,
        ge=0,
        description="A group waits for its pointing's next calibrator transit plus this "
        "(time to solve it), never longer than wait_timeout_h.",
    )
    fallback_max_days: float = Field(
        7.0,
        ge=0,
        description="When no set covers a group and none is coming, apply the nearest set "
        "of the same pointing this recent (marked extrapolated).",
    )
    k_validity_h: float = Field(24.0, gt=0, description="Validity window of a delay (K) table.")
    bp_validity_h: float = Field(24.0, gt=0, description="Validity window of a bandpass table.")
    g_validity_h: float = Field(12.0, gt=0, description="Validity window of a gain (G) table.")
    extrapolate_max_h: float = Field(
        12.0, ge=0, description="Use the set whose window midpoint is this near if none covers."
    )
    wait_timeout_h: float = Field(
        24.0, gt=0, description="A group with no usable set waits this long, then fails."
    )
    retry_after_s: float = Field(300.0, gt=0, description="Re-offer a waiting group after this.")
    dp3_executable: str | None = Field(None, description="DP3 program; default: the venv's.")
    aoflagger: bool = Field(True, description="Flag RFI with AOFlagger (through DP3).")
    solve_int_s: float | None = Field(
        None, description="Gain (G) solution interval, s; default: one solution per group."
    )


class ImagingSettings(BaseModel):
    """WSClean imaging and primary-beam correction (docs/imaging.md)."""

    preset: Literal["ci", "demo", "full"] = Field(
        "full", description="Image size and cell of a simulator preset (or the real array)."
    )
    size_px: int | None = Field(None, ge=64, description="Pixels a side (overrides the preset).")
    cell_arcsec: float | None = Field(None, gt=0, description="Cell size (overrides the preset).")
    wsclean_executable: str = "/usr/bin/wsclean"
    robust: float = 0.0
    auto_mask: float = Field(
        5.0,
        gt=0,
        description="WSClean -auto-mask (sigma): CLEAN finds components above this, then "
        "cleans inside their mask to auto_threshold. 5, not 3: at 3 CLEAN cleaned thousands "
        "of noise peaks and the residual rms read ~20 % below the thermal noise.",
    )
    clean_mask: Literal["catalog", "auto"] = Field(
        "catalog",
        description="Where CLEAN looks for components: 'catalog' (inside a mask of the "
        "catalogued sources, then to auto_threshold; the automatic mask if the catalogue "
        "has none on the image) or 'auto' (WSClean's -auto-mask). On 8 epochs of one "
        "pointing the catalogue mask took bright sources' epoch-to-epoch scatter from "
        "0.98 % to 0.66 % (docs/photometry.md).",
    )
    clean_mask_min_apparent_mjy: float = Field(
        15.0, ge=0,
        description="Catalogued sources enter the CLEAN mask from this apparent flux "
        "(catalogue flux x primary beam, mJy; 15 is ~4.5x the ci images' rms: at 3 the "
        "faint sources' noise was cleaned and gave false rapid_change candidates).",
    )  # fmt: skip
    clean_mask_radius_arcsec: float = Field(
        20.0, gt=0,
        description="Radius of the CLEAN mask around a source, plus half its FIRST major axis.",
    )  # fmt: skip
    auto_threshold: float = 0.5
    mgain: float = 0.8
    niter: int = Field(100_000, ge=0)
    pb_cut: float = Field(0.2, gt=0, lt=1, description="Blank pb-corrected pixels below this.")
    threads: int = Field(2, ge=1)
    baseline_averaging: float = Field(
        10.0,
        ge=0,
        description="WSClean -baseline-averaging (wavelengths; 0: off): short baselines are "
        "averaged in time while gridding, up to the uv-smearing that DSA-110's longest "
        "baseline (11,800 wavelengths at the top of the band) has in one 12.9 s integration "
        "(11 wavelengths). 96 antennas: ~3.8x fewer visibilities to grid; a full-size "
        "science group imaged in 181 s instead of 378 s, bright-source fluxes unchanged "
        "(docs/imaging.md).",
    )
    gridder: Literal["wgridder", "wstacking"] = Field(
        "wgridder",
        description="WSClean gridder: 'wgridder' (-use-wgridder, Reinecke's w-gridder) or "
        "'wstacking' (WSClean's default w-stacking). On a demo group the w-gridder took "
        "41 s to invert and 27 s to predict against 57 s and 47 s (docs/imaging.md).",
    )
    allow_uncalibrated: bool = Field(
        False, description="Image a group without calibration (cal_applied=0) instead of failing."
    )
    calibrator_groups: bool = Field(
        True,
        description=(
            "Image calibrator-transit groups too (False: they are only solved; no image, "
            "no photometry)."
        ),
    )


class MosaicSettings(BaseModel):
    """Mosaics of time windows and their automatic scheduler (docs/mosaics.md)."""

    window_s: float = Field(
        3600.0,
        gt=0,
        description="Length of automatic windows in sidereal seconds of LST (3600: one hour "
        "of LST); windows start at lst_origin_h and restart every sidereal day.",
    )
    lst_origin_h: float = Field(
        0.0,
        ge=0,
        lt=24,
        description="Local sidereal time (h) at which each sidereal day's first window starts.",
    )
    poll_interval_s: float = Field(60.0, gt=0, description="Scheduler pass period, s.")
    idle_close_s: float = Field(
        1800.0,
        gt=0,
        description="A window also closes when no group has arrived for this long (s).",
    )
    lookback_days: float = Field(
        3.0, gt=0, description="Scheduler considers images this far before the newest one."
    )
    lease_s: float = Field(
        120.0,
        gt=0,
        description="A build's claim is renewed every lease_s / 4; a claim not renewed for "
        "lease_s (its scheduler was killed) is retaken.",
    )
    max_attempts: int = Field(3, ge=1, description="Builds tried per window before giving up.")
    dec_tolerance_deg: float = Field(
        0.5, gt=0, description="Pointings closer in Dec than this go into one mosaic."
    )
    cell_arcsec: float | None = Field(
        None,
        gt=0,
        description="Mosaic pixel size; default a third of the sharpest beam's minor axis "
        "(never finer than the inputs' finest cell).",
    )
    pb_min: float = Field(
        0.2, gt=0, lt=1, description="Pixels below this beam response get no weight."
    )
    detection_snr: float = Field(5.0, gt=0, description="Island threshold for n_sources.")
    thumbnail_max_px: int = Field(512, ge=16, le=4096)


class PhotometrySettings(BaseModel):
    """Forced photometry, normalisation, variability and ESE rules (docs/photometry.md)."""

    flux_limit_mjy: float = Field(
        5.0, ge=0, description="Measure catalog sources with NVSS flux at least this (mJy)."
    )
    pb_cut: float = Field(
        0.25, ge=0, le=1, description="Flag BELOW_PB where the primary-beam response is lower."
    )
    reference_pb_min: float = Field(
        0.5, gt=0, le=1, description="References must lie where the beam response is >= this."
    )
    blend_radius_beams: float = Field(1.5, ge=0, description="Joint-fit radius, beam majors.")
    confusion_ratio: float = Field(
        10.0, ge=0,
        description="Flag CONFUSED (bad) a source with a neighbour this many times brighter "
        "within confusion_radius_beams (0: off).",
    )  # fmt: skip
    confusion_radius_beams: float = Field(
        5.0, ge=0, description="Radius of the confusion test, beam major axes (FWHM)."
    )
    sidelobe_level: float | None = Field(
        None, ge=0,
        description="Flag CONFUSED (bad) a source whose error is at most this fraction of a "
        "neighbour's catalogue flux (one also confusion_ratio times brighter) within "
        "sidelobe_radius_beams (0: off; unset: 0.005 measured for the 24-antenna ci array, "
        "scaled by 1/sqrt(baselines) for the imaging preset's array).",
    )  # fmt: skip
    sidelobe_radius_beams: float = Field(
        25.0, ge=0, description="Radius of the sidelobe test, beam major axes (FWHM)."
    )
    reference_min_snr: float = Field(
        50.0, ge=0,
        description="References with an expected SNR (catalog flux x beam / local noise) below "
        "this are not used (0: all); see reference_min_count.",
    )  # fmt: skip
    reference_min_count: int = Field(
        10, ge=1, description="Use at least this many references (the brightest) if available."
    )
    baseline_epochs: int = Field(10, ge=1, description="A baseline is the median of this many.")
    baseline_min_epochs: int = Field(
        1, ge=1, description="Fewest epochs to set a baseline (1: normalise from the first epoch)."
    )
    clip_sigma: float = Field(3.0, gt=0, description="Reject reference ratios beyond this.")
    scale_scatter: bool = Field(
        True,
        description=(
            "Add the references' scatter beyond their noise (a fraction of the flux: "
            "calibration errors that differ across the field) to every normalised error."
        ),
    )
    min_references: int = Field(3, ge=1, description="Fewer left: the image stays raw.")
    repeat_noise: bool = Field(
        True,
        description=(
            "Scale the rms map's noise to the noise that differs between this image and an "
            "earlier one of the same pointing (faint sources' flux differences): sidelobes "
            "and confusion that repeat at the same pointing do not scatter a light curve."
        ),
    )
    repeat_noise_max_offset_deg: float = Field(
        0.2, gt=0, description="An earlier image counts as the same pointing within this."
    )
    repeat_noise_lookback_days: float = Field(
        1.5, gt=0,
        description="A source's previous measurement is paired if at most this much older.",
    )  # fmt: skip
    repeat_noise_min_pairs: int = Field(
        30, ge=5, description="Fewer faint (SNR < 5) pairs: the rms map is used as it is."
    )
    repeat_noise_images: int = Field(
        10,
        ge=1,
        description=(
            "The factor applied is the median of the faintest bin's factor over this many "
            "latest images of the pointing (this one included; within "
            "repeat_noise_history_days): one image's ~80 pairs measure it to ~15 %, and a "
            "low draw would make a dip look more significant than it is (1: the image's own)."
        ),
    )
    repeat_noise_history_days: float = Field(
        30.0, gt=0,
        description="Earlier images' factors, and a source's earlier pointings, count for "
        "this long.",
    )  # fmt: skip
    pointing_history: int = Field(
        20,
        ge=1,
        description=(
            "Pointings a light curve holds are counted over a source's latest this many "
            "measurements (this one included): terms that repeat at a pointing scatter a "
            "light curve over n pointings by (1 - 1/n) of their variance."
        ),
    )
    pointing_systematic: float = Field(
        0.006,
        ge=0,
        lt=1,
        description=(
            "Flux error of the imaging chain that changes with the pointing (CLEAN and "
            "gridding of a source at another place in the field and on the pixel grid), as "
            "a fraction of the flux at the beam centre; it grows as 1 / (beam response). "
            "Measured between two pointings of a noiseless ci sky "
            "(benchmarks/imaging_flux_bench.py), the multiplicative part (the additive "
            "part is confusion, which the rms map holds): 0.8 % at beam response >= 0.5, "
            "2.8 % at 0.3-0.5, 2.0 % at 0.2-0.3. A revisit of the same pointing repeats it: "
            "added in quadrature to the error times (1 - 1/n) for a light curve over n "
            "pointings (0: never added)."
        ),
    )
    pointing_systematic_resolved: float = Field(
        0.018,
        ge=0,
        lt=1,
        description=(
            "The same for sources the catalogue resolves (resolved_flag): their peak "
            "depends more on where CLEAN puts their structure. Measured: 2.6 % at beam "
            "response >= 0.5, 4.9 % at 0.3-0.5, 6.6 % at 0.2-0.3 (20-40 arcsec Gaussians)."
        ),
    )
    ese_sigma_deviation: float = Field(5.0, gt=0)
    ese_chi2_nu: float = Field(3.0, gt=0)
    ese_min_obs: int = Field(5, ge=2)
    rapid_vs: float = Field(4.3, gt=0)
    rapid_m: float = Field(0.26, gt=0)
    ese_false_alarm: float = Field(
        1e-4, ge=0, lt=1,
        description=(
            "Chance that a constant source's light curve passes a rule by noise alone: the "
            "sigma thresholds rise above the ones above with the number of measurements "
            "tested (0: fixed thresholds)."
        ),
    )  # fmt: skip
    ese_trials_horizon: int = Field(
        50, ge=1,
        description="The trials of ese_false_alarm count a light curve as at least this "
        "many measurements: it is tested again at every epoch, so a short one faces the "
        "tests of its whole life (1: only the measurements so far, which lets the first "
        "epochs of every light curve through at the lowest thresholds).",
    )  # fmt: skip


class Settings(BaseSettings):
    """Top-level settings. Build with :func:`get_settings`, never at import time."""

    model_config = SettingsConfigDict(
        env_prefix="CONTIMG_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    home: Path = Field(Path("./contimg-data"), description="Root of all contimg data.")
    state_dir: Path | None = Field(None, description="Databases; default <home>/state.")
    incoming_dir: Path | None = Field(None, description="Where UVH5 files land; <home>/incoming.")
    products_dir: Path | None = Field(None, description="MS, images, mosaics; <home>/products.")

    database_url: str | None = Field(
        None,
        description=(
            "PostgreSQL URL (postgresql+psycopg://user@host/db). When set, the four databases "
            "are four schemas of that one PostgreSQL database; when unset, SQLite files in the "
            "state directory."
        ),
    )
    sqlite_busy_timeout_ms: int = Field(30_000, ge=0)

    ingest: IngestSettings = IngestSettings()
    conversion: ConversionSettings = ConversionSettings()
    worker: WorkerSettings = WorkerSettings()
    api: ApiSettings = ApiSettings()
    catalog: CatalogSettings = CatalogSettings()
    calibration: CalibrationSettings = CalibrationSettings()
    imaging: ImagingSettings = ImagingSettings()
    mosaic: MosaicSettings = MosaicSettings()
    photometry: PhotometrySettings = PhotometrySettings()

    @model_validator(mode="after")
    def _derive_dirs(self) -> Settings:
        # Every directory is made absolute here, once, whatever way it was given (CLI
        # option, environment variable, default; relative to the working directory at
        # start-up), so every path the pipeline stores in a database is a full path
        # that still means the same file from any other working directory.
        self.home = absolute_path(self.home)
        self.state_dir = absolute_path(self.state_dir or self.home / "state")
        self.incoming_dir = absolute_path(self.incoming_dir or self.home / "incoming")
        self.products_dir = absolute_path(self.products_dir or self.home / "products")
        self.api.extra_file_roots = [absolute_path(p) for p in self.api.extra_file_roots]
        if self.calibration.calibrators_csv is not None:
            self.calibration.calibrators_csv = absolute_path(self.calibration.calibrators_csv)
        return self

    # The validator above guarantees these are set; the properties give typed access.
    @property
    def state_path(self) -> Path:
        assert self.state_dir is not None
        return self.state_dir

    @property
    def incoming_path(self) -> Path:
        assert self.incoming_dir is not None
        return self.incoming_dir

    @property
    def products_path(self) -> Path:
        assert self.products_dir is not None
        return self.products_dir

    @property
    def backend(self) -> Literal["sqlite", "postgresql"]:
        return "postgresql" if self.database_url else "sqlite"

    def sqlite_path(self, name: str) -> Path:
        """Path of the SQLite file of database ``name`` (one of :data:`DATABASE_NAMES`)."""
        return self.state_path / SQLITE_FILES[name]


def get_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, with ``overrides`` (None values ignored) on top."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)
