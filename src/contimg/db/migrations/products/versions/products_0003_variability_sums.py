"""Running sums for incremental variability statistics; one open ESE candidate per type.

Revision ID: products_0003
Revises: products_0002
Create Date: 2026-11-25

* ``variability_sums``: per source, the running state of its good measurements
  (JSON of :class:`contimg.science.variability.RunningSums`) and its latest good
  measurement (for the 'rapid_change' rule), so that an image's update costs the
  same at any length of history;
* ``uq_ese_open``: a partial unique index making "at most one active candidate per
  source and flag type" a database guarantee (SQLite and PostgreSQL both support
  ``CREATE UNIQUE INDEX ... WHERE``).
"""

from contimg.db.migrations.ddl import dialect, run_script

revision = "products_0003"
down_revision = "products_0002"
branch_labels = None
depends_on = None

SCRIPT = """
CREATE TABLE variability_sums (
    source_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    last_good_mjd {real},
    last_good_flux_mjy {real},
    last_good_err_mjy {real},
    updated_at {real} NOT NULL
);
CREATE UNIQUE INDEX uq_ese_open ON ese_candidates (source_id, flag_type) WHERE status = 'active';
"""

DOWN = """
DROP INDEX uq_ese_open;
DROP TABLE variability_sums;
"""


def upgrade() -> None:
    run_script(SCRIPT.format(real="REAL" if dialect() == "sqlite" else "DOUBLE PRECISION"))


def downgrade() -> None:
    run_script(DOWN)
