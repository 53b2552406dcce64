"""Tables of ``ingest.sqlite3``: the ingest queue, its subband files and performance metrics."""

import sqlalchemy as sa

from contimg.db.types import BIGINT, INTEGER, REAL, TEXT

metadata = sa.MetaData()

ingest_queue = sa.Table(
    "ingest_queue",
    metadata,
    sa.Column("group_id", TEXT, primary_key=True),
    sa.Column("state", TEXT, nullable=False),
    sa.Column("received_at", REAL, nullable=False),
    sa.Column("last_update", REAL, nullable=False),
    sa.Column("expected_subbands", INTEGER, server_default=sa.text("16")),
    sa.Column("has_calibrator", INTEGER),
    sa.Column("calibrators", TEXT),
    sa.Column("retry_count", INTEGER, server_default=sa.text("0")),
    sa.Column("error_message", TEXT),
    # ingest_0002: worker leases and retry times (not in the spec).
    sa.Column("lease_owner", TEXT),
    sa.Column("lease_expires_at", REAL),
    sa.Column("heartbeat_at", REAL),
    sa.Column("next_attempt_at", REAL),
    sa.Index("idx_ingest_state", "state"),
    sa.Index("idx_ingest_received", "received_at"),
    sa.Index("idx_ingest_claim", "state", "received_at"),
)

subband_files = sa.Table(
    "subband_files",
    metadata,
    sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("group_id", TEXT, sa.ForeignKey("ingest_queue.group_id"), nullable=False),
    sa.Column("subband_idx", INTEGER, nullable=False),
    sa.Column("file_path", TEXT, nullable=False),
    sa.Column("file_size", BIGINT),
    sa.Column("discovered_at", REAL, nullable=False),
    sa.UniqueConstraint("group_id", "subband_idx"),
    sa.Index("idx_subband_group", "group_id"),
    sqlite_autoincrement=True,
)

performance_metrics = sa.Table(
    "performance_metrics",
    metadata,
    sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
    sa.Column(
        "group_id", TEXT, sa.ForeignKey("ingest_queue.group_id"), nullable=False, unique=True
    ),
    sa.Column("writer_type", TEXT),
    sa.Column("conversion_time", REAL),
    sa.Column("concat_time", REAL),
    sa.Column("k_solve_time", REAL),
    sa.Column("bp_solve_time", REAL),
    sa.Column("g_solve_time", REAL),
    sa.Column("imaging_time", REAL),
    sa.Column("photometry_time", REAL),
    sa.Column("total_time", REAL),
    sa.Column("recorded_at", REAL, nullable=False),
    sa.Index("idx_perf_group", "group_id"),
    sqlite_autoincrement=True,
)

# ingest_0002: every subband file seen (stability, outcome, header facts) ...
ingest_files = sa.Table(
    "ingest_files",
    metadata,
    sa.Column("file_path", TEXT, primary_key=True),
    sa.Column("file_name", TEXT, nullable=False),
    sa.Column("subband_idx", INTEGER, nullable=False),
    sa.Column("obs_time", REAL, nullable=False),
    sa.Column("file_size", BIGINT),
    sa.Column("stable_count", INTEGER, nullable=False, server_default=sa.text("0")),
    sa.Column("status", TEXT, nullable=False),
    sa.Column("reason", TEXT),
    sa.Column("group_id", TEXT),
    sa.Column("dec_deg", REAL),
    sa.Column("start_jd", REAL),
    sa.Column("end_jd", REAL),
    sa.Column("first_seen_at", REAL, nullable=False),
    sa.Column("last_checked_at", REAL, nullable=False),
    sa.Index("idx_ingest_files_obs", "obs_time"),
    sa.Index("idx_ingest_files_group", "group_id"),
    sa.Index("idx_ingest_files_status", "status"),
)

# ... and every other file of the incoming directory, logged once.
ingest_ignored = sa.Table(
    "ingest_ignored",
    metadata,
    sa.Column("file_path", TEXT, primary_key=True),
    sa.Column("reason", TEXT, nullable=False),
    sa.Column("first_seen_at", REAL, nullable=False),
)

# ingest_0003: groups queued again by 'contimg reprocess', with their settings.
reprocess_requests = sa.Table(
    "reprocess_requests",
    metadata,
    sa.Column("group_id", TEXT, sa.ForeignKey("ingest_queue.group_id"), primary_key=True),
    sa.Column("run_tag", TEXT, nullable=False),
    sa.Column("overrides", TEXT, nullable=False, server_default=sa.text("'{}'")),
    sa.Column("keep_previous", INTEGER, nullable=False, server_default=sa.text("1")),
    sa.Column("requested_at", REAL, nullable=False),
    sa.Column("started_at", REAL),
    sa.Column("done_at", REAL),
    sa.Index("idx_reprocess_tag", "run_tag"),
)
