"""Queue bookkeeping the specification lacks: worker leases, retry times, file log.

Revision ID: ingest_0002
Revises: ingest_0001
Create Date: 2026-11-25

Adds to ``ingest_queue`` (new nullable columns only; the spec's columns are
untouched):

* ``lease_owner`` / ``lease_expires_at`` / ``heartbeat_at``: the worker holding a
  claimed group and until when (Unix seconds); renewed by the worker's heartbeat.
* ``next_attempt_at``: a group is not offered to workers before this time
  (exponential backoff after a failure, or a stage's ``StageDeferred``).

New tables:

* ``ingest_files``: every correctly named subband file seen, with its size
  history (stability check), outcome (``waiting`` | ``accepted`` | ``rejected``),
  the reason of a rejection and the header facts read from it.
* ``ingest_ignored``: files in the incoming directory that are not subband files,
  so each is logged once, not on every scan.

downgrade() is the exact inverse and leaves the spec tables' rows intact.
"""

from contimg.db.migrations.ddl import dialect, run_script

revision = "ingest_0002"
down_revision = "ingest_0001"
branch_labels = None
depends_on = None


def _script(real: str, bigint: str) -> str:
    return f"""
ALTER TABLE ingest_queue ADD COLUMN lease_owner TEXT;
ALTER TABLE ingest_queue ADD COLUMN lease_expires_at {real};
ALTER TABLE ingest_queue ADD COLUMN heartbeat_at {real};
ALTER TABLE ingest_queue ADD COLUMN next_attempt_at {real};
CREATE INDEX idx_ingest_claim ON ingest_queue(state, received_at);

CREATE TABLE ingest_files (
    file_path TEXT PRIMARY KEY,
    file_name TEXT NOT NULL,
    subband_idx INTEGER NOT NULL,
    obs_time {real} NOT NULL,
    file_size {bigint},
    stable_count INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    reason TEXT,
    group_id TEXT,
    dec_deg {real},
    start_jd {real},
    end_jd {real},
    first_seen_at {real} NOT NULL,
    last_checked_at {real} NOT NULL
);
CREATE INDEX idx_ingest_files_obs ON ingest_files(obs_time);
CREATE INDEX idx_ingest_files_group ON ingest_files(group_id);
CREATE INDEX idx_ingest_files_status ON ingest_files(status);

CREATE TABLE ingest_ignored (
    file_path TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    first_seen_at {real} NOT NULL
);
"""


def upgrade() -> None:
    if dialect() == "sqlite":
        run_script(_script("REAL", "INTEGER"))
    else:
        run_script(_script("DOUBLE PRECISION", "BIGINT"))


def downgrade() -> None:
    run_script(
        """
        DROP TABLE ingest_ignored;
        DROP INDEX idx_ingest_files_status;
        DROP INDEX idx_ingest_files_group;
        DROP INDEX idx_ingest_files_obs;
        DROP TABLE ingest_files;
        DROP INDEX idx_ingest_claim;
        ALTER TABLE ingest_queue DROP COLUMN next_attempt_at;
        ALTER TABLE ingest_queue DROP COLUMN heartbeat_at;
        ALTER TABLE ingest_queue DROP COLUMN lease_expires_at;
        ALTER TABLE ingest_queue DROP COLUMN lease_owner;
        """
    )
