"""Request and response models that exist only in the API (the shared row and
spec models live in :mod:`contimg.models`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, computed_field

from contimg.models import (
    CalibrationSet,
    CandidateStatusIn,
    ESECandidate,
    ImageRow,
    LightCurvePoint,
    MsIndexRow,
    PerformanceMetricsRow,
    RecentGroup,
    SourceRow,
    SourceVariabilityStats,
    SubbandFileRow,
)
from contimg.science.flags import BAD_MASK, describe

NoNul = r"^[^\x00]*$"

# --------------------------------------------------------------------- auth


class TokenOk(BaseModel):
    ok: bool = True


# --------------------------------------------------------------------- health


class DatabaseHealth(BaseModel):
    name: str
    ok: bool
    location: str
    revision: str | None = Field(None, description="Alembic revision the database is at.")
    error: str | None = None


class DiskUsage(BaseModel):
    name: Literal["state", "incoming", "products"]
    path: str
    exists: bool
    total_bytes: int | None = None
    free_bytes: int | None = None
    used_fraction: float | None = None


class WorkerLease(BaseModel):
    worker_id: str
    n_groups: int = Field(description="Groups this worker holds a lease on.")
    lease_expires_at: float | None
    heartbeat_at: float | None
    expired: bool = Field(description="True when its newest lease has run out.")


class Health(BaseModel):
    ok: bool = Field(description="Every database reachable.")
    time: float = Field(description="Server time, Unix seconds.")
    version: str
    backend: Literal["sqlite", "postgresql"]
    databases: list[DatabaseHealth]
    disks: list[DiskUsage]
    workers: list[WorkerLease]
    event_clients: int = Field(description="Connected live-event streams.")


# ---------------------------------------------------------------------- queue


class StageTiming(BaseModel):
    stage: str
    seconds: float | None


class GroupDetail(BaseModel):
    group: RecentGroup
    subband_files: list[SubbandFileRow]
    total_size_bytes: int
    missing_subbands: list[int]
    performance: PerformanceMetricsRow | None
    stage_timings: list[StageTiming] = Field(description="Per-stage seconds, in pipeline order.")
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    next_attempt_at: float | None = None


class RetryResult(BaseModel):
    group_id: str
    state: str
    retry_count: int


class IngestFile(BaseModel):
    """A subband file the watcher has seen, with its outcome."""

    file_path: str
    file_name: str
    subband_idx: int
    obs_time: float
    file_size: int | None
    stable_count: int
    status: str = Field(description="'waiting', 'accepted' or 'rejected'.")
    reason: str | None
    group_id: str | None
    dec_deg: float | None
    start_jd: float | None
    end_jd: float | None
    first_seen_at: float
    last_checked_at: float


# ---------------------------------------------------------------- calibration


class ApplicableCalibration(BaseModel):
    mjd: float
    set: CalibrationSet | None = Field(
        description="The set applied to data at this time (None: no active set qualifies)."
    )
    extrapolated: bool = Field(False, description="No set covers the time; the nearest is used.")
    distance_h: float | None = Field(
        None, description="Hours between the set's window midpoint and the time."
    )


class SetActivation(BaseModel):
    set_name: str
    active: bool
    n_tables: int


# ------------------------------------------------------------------- products


class MsDetail(BaseModel):
    ms: MsIndexRow
    images: list[ImageRow]


class ImageQc(BaseModel):
    """Quality control of a measured image (table ``image_qc``, docs/photometry.md)."""

    status: Literal["ok", "rejected"]
    reasons: list[str] = Field(default_factory=list)
    noise_jy: float | None = Field(None, description="Robust rms of the central region.")
    beam_major_arcsec: float | None = None
    beam_minor_arcsec: float | None = None
    beam_pa_deg: float | None = None
    blanked_fraction: float | None = Field(None, description="NaN pixels in the central region.")
    norm_factor: float | None = Field(None, description="The flux-scale correction c.")
    checked_at: float


class ImageDetail(BaseModel):
    image: ImageRow
    n_photometry: int
    file_available: bool = Field(description="The file exists inside the product directories.")
    qc: ImageQc | None = Field(
        None, description="Quality control (None: the image is not measured by photometry)."
    )


# -------------------------------------------------------------------- sources


class SourceListItem(SourceVariabilityStats):
    """The spec's ``SourceVariabilityStats`` plus the table's other statistics."""

    min_flux_mjy: float | None = None
    max_flux_mjy: float | None = None
    eta_metric: float | None = None
    last_mjd: float | None = None
    updated_at: float | None = None


class SourceDetail(BaseModel):
    source_id: str
    catalog: SourceRow | None = Field(description="The master-catalog row (None if absent).")
    variability: SourceListItem | None = Field(description="None before any measurement.")
    candidates: list[ESECandidate]


class LightCurvePointOut(LightCurvePoint):
    """A row of the spec's flux time series, plus the image and raw flux."""

    image_id: int
    image_path: str
    flags: int | None = Field(description="Quality bits (docs/photometry.md).")
    raw_flux_mjy: float | None = Field(description="Before differential normalisation.")
    raw_error_mjy: float | None

    @computed_field(description="Names of the quality bits set, e.g. ['BLENDED', 'CONFUSED'].")  # type: ignore[prop-decorator]
    @property
    def flag_names(self) -> list[str]:
        return describe(self.flags or 0)

    @computed_field(  # type: ignore[prop-decorator]
        description="True when the point enters the light-curve statistics and the ESE rules "
        "(no bad quality bit, a positive error)."
    )
    @property
    def used(self) -> bool:
        return not ((self.flags or 0) & BAD_MASK) and bool(self.error_mjy and self.error_mjy > 0)


class LightCurve(BaseModel):
    source_id: str
    points: list[LightCurvePointOut]


class VariabilityScatter(BaseModel):
    """Column arrays (one entry per source) for a variability scatter plot."""

    count: int = Field(description="Sources matching the filters (all of them, not a page).")
    truncated: bool = Field(description="True when more sources matched than were returned.")
    source_id: list[str]
    ra_deg: list[float]
    dec_deg: list[float]
    mean_flux_mjy: list[float | None]
    n_obs: list[int | None]
    chi2_nu: list[float | None]
    eta_metric: list[float | None]
    sigma_deviation: list[float | None]
    v_index: list[float | None] = Field(description="std_flux_mjy / mean_flux_mjy.")


# ----------------------------------------------------------------- candidates


class StatusChange(BaseModel):
    status: CandidateStatusIn = Field(
        description="active, investigated or dismissed (the spec's resolved / false_positive "
        "are accepted as synonyms)."
    )
    note: str = Field("", max_length=10_000, pattern=NoNul, description="Why; appended.")
    author: str = Field("dashboard", min_length=1, max_length=200, pattern=NoNul)


class NoteIn(BaseModel):
    note: str = Field(min_length=1, max_length=10_000, pattern=NoNul)
    author: str = Field("dashboard", min_length=1, max_length=200, pattern=NoNul)


class FlagIn(BaseModel):
    flagged_by: str = Field(min_length=1, max_length=200, pattern=NoNul)
    note: str = Field("", max_length=10_000, pattern=NoNul, description="Why; appended.")


# ---------------------------------------------------------------- performance


class StageTimesPoint(BaseModel):
    """Mean per-stage seconds of the groups recorded in one time bin."""

    bin_start: float = Field(description="Unix seconds.")
    n_groups: int
    conversion_time: float | None
    concat_time: float | None
    k_solve_time: float | None
    bp_solve_time: float | None
    g_solve_time: float | None
    imaging_time: float | None
    photometry_time: float | None
    total_time: float | None


class ThroughputBin(BaseModel):
    bin_start: float = Field(description="Unix seconds.")
    arrived: int = Field(description="Groups received in this bin.")
    completed: int = Field(description="Groups whose processing finished in this bin.")
    failed: int = Field(description="Groups that failed (last update) in this bin.")


class Throughput(BaseModel):
    bin_s: float
    bins: list[ThroughputBin]
    arrival_rate_per_hour: float = Field(description="Mean over the window.")
    completion_rate_per_hour: float = Field(description="Mean over the window.")


# --------------------------------------------------------------------- catalog


class CatalogConeItem(SourceRow):
    sep_deg: float
