"""Reprocessing requests (``contimg reprocess``): which groups to redo, with which
settings, keeping or replacing their earlier products.

Revision ID: ingest_0003
Revises: ingest_0002
Create Date: 2026-12-02

New table (the spec's tables are untouched):

* ``reprocess_requests``: one row per group queued again by ``contimg reprocess``:
  the run's tag, the settings it overrides (JSON, e.g. ``{"imaging": {"robust":
  "0.5"}}``), whether the earlier products are kept (moved to
  ``products/previous/<run_tag>/<group>``) or replaced, and when it was requested,
  started and done. A newer request for the same group replaces the row.

downgrade() drops it and leaves every other row intact.
"""

from contimg.db.migrations.ddl import dialect, run_script

revision = "ingest_0003"
down_revision = "ingest_0002"
branch_labels = None
depends_on = None


def _script(real: str) -> str:
    return f"""
CREATE TABLE reprocess_requests (
    group_id TEXT PRIMARY KEY REFERENCES ingest_queue(group_id),
    run_tag TEXT NOT NULL,
    overrides TEXT NOT NULL DEFAULT '{{}}',
    keep_previous INTEGER NOT NULL DEFAULT 1,
    requested_at {real} NOT NULL,
    started_at {real},
    done_at {real}
);
CREATE INDEX idx_reprocess_tag ON reprocess_requests(run_tag);
"""


def upgrade() -> None:
    run_script(_script("REAL" if dialect() == "sqlite" else "DOUBLE PRECISION"))


def downgrade() -> None:
    run_script(
        """
        DROP INDEX idx_reprocess_tag;
        DROP TABLE reprocess_requests;
        """
    )
