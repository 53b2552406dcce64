"""Typed data models shared by the pipeline, the CLI and the API.

Two families:

* **Row models** (``*Row``): one per table of the specification, field for field,
  with the table's nullability. They are what ``db.queries`` returns.
* **Spec models**: ``QueueStats``, ``PipelineStatus``, ``CalibrationSet``,
  ``RecentGroup``, ``ESECandidate``, ``SourceVariabilityStats`` as the specification
  names them (``CalibrationSet`` and ``RecentGroup`` as defined in docs/api.md).

Times: ``*_at`` fields of rows are Unix timestamps (seconds, UTC) as stored; spec
models that the specification types as ``datetime`` carry a timezone-aware UTC
datetime (ISO 8601 in JSON). ``mjd`` is always the observation's MJD (UTC).

Where the specification's model declares a number that the table allows to be
NULL (a statistic undefined for a single measurement, say), the model says
``float | None``: a model must be able to hold every row honestly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, Literal, TypeVar, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from contimg.science import ese as ese_rules

T = TypeVar("T")

GroupState = Literal[
    "collecting", "pending", "in_progress", "processing_fresh", "completed", "failed"
]
GROUP_STATES: tuple[str, ...] = get_args(GroupState)
"""The group states in pipeline order (the one list; ``GroupState`` is its type)."""

CandidateStatus = ese_rules.CandidateStatus
"""A candidate's triage status: the word stored, shown and accepted everywhere."""
SpecCandidateStatus = Literal["active", "resolved", "false_positive"]
"""The specification's ESECandidate.status words (mapped by science.ese.SPEC_STATUS)."""
CandidateStatusIn = Annotated[CandidateStatus, BeforeValidator(ese_rules.normalise_status)]
"""A status on input: the stored word, or the spec's synonym (normalised)."""


def utc_from_unix(ts: float | None) -> datetime | None:
    """A timezone-aware UTC datetime from a Unix timestamp (None stays None)."""
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


class Row(BaseModel):
    """Base of the row models: built from a SQLAlchemy row mapping."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")


class Page(BaseModel, Generic[T]):
    """The envelope of every list: one page of ``data`` and the ``count`` of the whole
    result, so a client always knows the total."""

    data: list[T]
    count: int = Field(description="Number of items in the whole result, all pages.")
    limit: int
    offset: int


# --------------------------------------------------------------------------- ingest


class IngestQueueRow(Row):
    group_id: str
    state: str
    received_at: float
    last_update: float
    expected_subbands: int | None = 16
    has_calibrator: int | None = None
    calibrators: str | None = None
    retry_count: int | None = 0
    error_message: str | None = None


class SubbandFileRow(Row):
    id: int
    group_id: str
    subband_idx: int
    file_path: str
    file_size: int | None = None
    discovered_at: float


class PerformanceMetricsRow(Row):
    id: int
    group_id: str
    writer_type: str | None = None
    conversion_time: float | None = None
    concat_time: float | None = None
    k_solve_time: float | None = None
    bp_solve_time: float | None = None
    g_solve_time: float | None = None
    imaging_time: float | None = None
    photometry_time: float | None = None
    total_time: float | None = None
    recorded_at: float


# ----------------------------------------------------------------------- products


class MsIndexRow(Row):
    path: str
    start_mjd: float | None = None
    end_mjd: float | None = None
    mid_mjd: float | None = None
    processed_at: float | None = None
    status: str | None = None
    stage: str | None = None
    stage_updated_at: float | None = None
    cal_applied: int | None = 0
    imagename: str | None = None
    field_name: str | None = None
    pointing_ra_deg: float | None = None
    pointing_dec_deg: float | None = None


class ImageRow(Row):
    id: int
    path: str
    ms_path: str
    created_at: float
    type: str
    format: str | None = "fits"
    beam_major_arcsec: float | None = None
    beam_minor_arcsec: float | None = None
    beam_pa_deg: float | None = None
    noise_jy: float | None = None
    dynamic_range: float | None = None
    pbcor: int | None = 0
    field_name: str | None = None
    center_ra_deg: float | None = None
    center_dec_deg: float | None = None
    imsize_x: int | None = None
    imsize_y: int | None = None
    cellsize_arcsec: float | None = None
    freq_ghz: float | None = None
    bandwidth_mhz: float | None = None
    integration_sec: float | None = None
    qc_status: Literal["ok", "rejected"] | None = Field(
        None,
        description=(
            "Quality control of the measured image (table image_qc, products_0007): 'rejected' "
            "images are kept but never enter light-curve statistics; None: not checked."
        ),
    )
    qc_reasons: list[str] | None = Field(None, description="Why quality control rejected it.")

    @field_validator("qc_reasons", mode="before")
    @classmethod
    def _json_list(cls, value: object) -> object:
        return _parse_json(value)


def _parse_json(value: object) -> object:
    """A JSON text column (None stays None) as its value."""
    import json

    if isinstance(value, str):
        return json.loads(value)
    return value


class PhotometryRow(Row):
    id: int
    image_path: str
    source_id: str
    ra_deg: float
    dec_deg: float
    nvss_flux_mjy: float | None = None
    peak_jyb: float
    peak_err_jyb: float | None = None
    snr: float | None = None
    measured_at: float
    mjd: float | None = None
    sep_from_center_deg: float | None = None
    flags: int | None = 0


class VariabilityStatsRow(Row):
    source_id: str
    ra_deg: float
    dec_deg: float
    nvss_flux_mjy: float | None = None
    n_obs: int | None = 0
    mean_flux_mjy: float | None = None
    std_flux_mjy: float | None = None
    min_flux_mjy: float | None = None
    max_flux_mjy: float | None = None
    chi2_nu: float | None = None
    sigma_deviation: float | None = None
    eta_metric: float | None = None
    last_measured_at: float | None = None
    last_mjd: float | None = None
    updated_at: float


class EseCandidateRow(Row):
    id: int
    source_id: str
    flagged_at: float
    flagged_by: str | None = "auto"
    significance: float
    flag_type: str
    notes: str | None = None
    status: str | None = "active"
    investigated_at: float | None = None
    dismissed_at: float | None = None


class MosaicRow(Row):
    id: int
    path: str
    name: str
    created_at: float
    start_mjd: float
    end_mjd: float
    integration_sec: float | None = None
    n_images: int | None = None
    center_ra_deg: float | None = None
    center_dec_deg: float | None = None
    dec_min_deg: float | None = None
    dec_max_deg: float | None = None
    noise_jy: float | None = None
    beam_major_arcsec: float | None = None
    beam_minor_arcsec: float | None = None
    beam_pa_deg: float | None = None
    n_sources: int | None = None
    thumbnail_path: str | None = None


# ------------------------------------------------------------------- cal registry


class CaltableRow(Row):
    id: int
    set_name: str
    path: str
    table_type: str
    order_index: int
    valid_start_mjd: float
    valid_end_mjd: float
    created_at: float
    active: int | None = 1


# ------------------------------------------------------------------ master sources


class SourceRow(Row):
    source_id: str
    ra_deg: float
    dec_deg: float
    s_nvss: float | None = None
    snr_nvss: float | None = None
    s_vlass: float | None = None
    alpha: float | None = None
    resolved_flag: int | None = 0
    confusion_flag: int | None = 0
    first_size_maj_arcsec: float | None = None
    first_size_min_arcsec: float | None = None
    first_size_pa_deg: float | None = None


ROW_MODELS: dict[str, type[Row]] = {
    "ingest_queue": IngestQueueRow,
    "subband_files": SubbandFileRow,
    "performance_metrics": PerformanceMetricsRow,
    "ms_index": MsIndexRow,
    "images": ImageRow,
    "photometry": PhotometryRow,
    "variability_stats": VariabilityStatsRow,
    "ese_candidates": EseCandidateRow,
    "mosaics": MosaicRow,
    "caltables": CaltableRow,
    "sources": SourceRow,
}
"""Table name -> row model (a test checks each against its table's columns)."""


# -------------------------------------------------------------------- spec models


class QueueStats(BaseModel):
    """Group counts by state. ``in_progress`` counts both processing states
    (``in_progress`` and ``processing_fresh``), so the six spec fields add up to
    ``total``; ``processing_fresh`` gives the breakdown."""

    total: int
    pending: int
    in_progress: int
    completed: int
    failed: int
    collecting: int
    processing_fresh: int = 0


class CalibrationTable(BaseModel):
    """One table of a calibration set."""

    table_type: str = Field(description="'K', 'BP' or 'G'.")
    path: str
    order_index: int
    valid_start_mjd: float
    valid_end_mjd: float


class CalibrationSet(BaseModel):
    """The K/BP/G tables solved from one calibrator transit."""

    set_name: str
    tables: list[CalibrationTable]
    valid_start_mjd: float = Field(description="Earliest start of the set's tables.")
    valid_end_mjd: float = Field(description="Latest end of the set's tables.")
    created_at: float = Field(description="Unix timestamp of the newest table.")
    active: bool = Field(description="True when every table of the set is active.")
    covers_now: bool = Field(description="Whether the set's window covers the current time.")


class RecentGroup(BaseModel):
    """A group of the ingest queue with what an operator needs to know at a glance."""

    group_id: str
    state: str
    received_at: float
    last_update: float
    subbands_present: int
    expected_subbands: int
    has_calibrator: bool | None
    calibrators: list[dict[str, object]] = Field(
        default_factory=list, description="Matched calibrators (name, ra_deg, dec_deg, ...)."
    )
    retry_count: int
    error_message: str | None
    total_time_s: float | None = Field(None, description="Processing time once processed.")


class LiveRate(BaseModel):
    """Processing speed over the last ``window_s`` (not in the spec; docs/operations.md).

    ``real_time_factor`` = sky time of the groups completed in the window (309 s each)
    / the wall time during which at least one group was being processed in it (the
    union of their processing intervals). Above 1 the pipeline, while it works, keeps
    up with the telescope; with N workers in parallel it grows about N times. None when
    no group completed in the window.
    """

    window_s: float
    real_time_factor: float | None
    groups_completed: int
    """Groups whose processing ended in the window."""
    groups_received: int
    """Groups that arrived (first file seen) in the window."""
    busy_s: float
    """Wall seconds of the window during which some group was being processed."""
    backlog: int
    """Groups waiting or being processed (pending + in progress)."""
    backlog_growing: bool
    """More groups arrived than completed in the window, and some wait."""


class DiskDir(BaseModel):
    name: str
    path: str
    free_bytes: int


class DiskGuardStatus(BaseModel):
    """The workers' disk guard as seen from the API's host (not in the spec)."""

    paused: bool
    reason: str | None
    min_free_gb: float
    dirs: list[DiskDir]


class PipelineStatus(BaseModel):
    queue: QueueStats
    calibration_sets: list[CalibrationSet]
    recent_groups: list[RecentGroup]
    rate: LiveRate | None = None
    """Live real-time factor and backlog trend (an addition to the spec's model)."""
    disk_guard: DiskGuardStatus | None = None
    """Whether workers are paused for disk space, and why (an addition)."""


class ESECandidate(BaseModel):
    """An ESE candidate as the specification's API model describes it.

    ``status`` is the word stored, shown by the dashboard and used by the CLI
    (active / investigated / dismissed); ``spec_status`` the specification's word for
    it (active / resolved / false_positive), mapped by ``science.ese.SPEC_STATUS``.
    ``baseline_flux_jy`` is the weighted mean flux, ``peak_flux_jy`` the flux at the
    largest deviation, ``max_sigma_dev`` the source's sigma_deviation;
    first/last_detection_at the first and last measurements meeting the candidate's
    rule (see contimg.api.candidates).
    """

    id: int
    source_id: str
    ra_deg: float
    dec_deg: float
    first_detection_at: datetime | None
    last_detection_at: datetime | None
    max_sigma_dev: float | None
    baseline_flux_jy: float | None
    peak_flux_jy: float | None
    status: CandidateStatus
    spec_status: SpecCandidateStatus = Field(
        description="The specification's word for status: active, resolved (investigated), "
        "false_positive (dismissed)."
    )
    notes: str | None = None
    flag_type: str | None = Field(None, description="variability, rapid_change or user.")
    reason: CandidateReason | None = Field(
        None, description="Why the candidate was flagged (automatic flags; products_0007)."
    )


class CandidateReason(BaseModel):
    """Why an automatic ESE candidate was flagged (column ``ese_candidates.reason``).

    ``threshold`` is the one applied to this light curve: the configured one, raised
    for the number of measurements tested (``false_alarm``, docs/photometry.md).
    """

    model_config = ConfigDict(extra="ignore")

    rule: Literal["variability", "rapid_change"]
    significance: float = Field(description="sigma_deviation, or |Vs| for rapid_change.")
    threshold: float = Field(description="The significance threshold this light curve needed.")
    base_threshold: float | None = Field(None, description="The configured threshold.")
    false_alarm: float | None = Field(
        None, description="Chance per constant light curve the threshold allows."
    )
    n_obs: int | None = Field(None, description="Good measurements in the light curve.")
    trials_horizon: int | None = Field(
        None, description="The trials counted at least this many measurements."
    )
    chi2_nu: float | None = None
    chi2_threshold: float | None = None
    min_obs: int | None = None
    m: float | None = Field(None, description="|m| = 2|f_a - f_b| / (f_a + f_b) (rapid_change).")
    m_threshold: float | None = None
    mean_flux_mjy: float | None = Field(None, description="Weighted mean flux (variability).")
    epochs_mjd: list[float] = Field(
        default_factory=list,
        description="Observation MJDs involved: the pair (rapid_change), or the measurements "
        "deviating by at least the threshold (variability).",
    )
    deviations_sigma: list[float] | None = Field(None, description="(f - mean) / error there.")
    fluxes_mjy: list[float] | None = Field(None, description="The pair's fluxes (rapid_change).")


class CandidateFlag(BaseModel):
    """One flag (one ``ese_candidates`` row) of a source's candidate row."""

    id: int
    flag_type: str
    significance: float = Field(
        description="The flag's significance: sigma_deviation (variability), |Vs| (rapid_change)."
    )
    status: CandidateStatus
    flagged_at: datetime | None
    first_detection_at: datetime | None
    last_detection_at: datetime | None
    notes: str | None = None


class SourceCandidates(BaseModel):
    """All candidates (flags) of one source, as the dashboard's one row per source.

    ``significance`` is the largest of its flags' significances (what the list sorts by
    by default); first/last detection span all its flags; ``status`` is the flags'
    common status, or null when they differ (each flag keeps its own)."""

    source_id: str
    ra_deg: float
    dec_deg: float
    significance: float
    max_sigma_dev: float | None
    baseline_flux_jy: float | None
    peak_flux_jy: float | None
    first_detection_at: datetime | None
    last_detection_at: datetime | None
    flagged_at: datetime | None = Field(description="The newest of its flags' flagging times.")
    status: CandidateStatus | None
    flags: list[CandidateFlag]


class SourceVariabilityStats(BaseModel):
    source_id: str
    ra_deg: float
    dec_deg: float
    nvss_flux_mjy: float | None
    n_obs: int
    mean_flux_mjy: float | None
    std_flux_mjy: float | None
    chi2_nu: float | None
    sigma_deviation: float | None
    last_measured_at: datetime | None


# -------------------------------------------------------- spec query pattern rows


class EseCandidateWithSource(BaseModel):
    """A row of the specification's "ESE candidates with source details" query."""

    id: int
    source_id: str
    ra_deg: float
    dec_deg: float
    mean_flux_mjy: float | None
    nvss_flux_mjy: float | None
    chi2_nu: float | None
    sigma_deviation: float | None
    n_obs: int | None
    flagged_at: float
    significance: float
    flag_type: str
    status: str | None


class LightCurvePoint(BaseModel):
    """A row of the specification's "flux time series for a source" query."""

    mjd: float | None
    flux_mjy: float
    error_mjy: float | None
    snr: float | None
    field_name: str | None
    image_noise_mjy: float | None


class RecentMosaic(BaseModel):
    """A row of the specification's "recent mosaics" query."""

    id: int
    name: str
    path: str
    start_mjd: float
    end_mjd: float
    hours: float | None
    n_images: int | None
    n_sources: int | None
    noise_mjy: float | None
    thumbnail_path: str | None
