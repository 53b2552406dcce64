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
    sa.Index("idx_ingest_state", "state"),
    sa.Index("idx_ingest_received", "received_at"),
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
