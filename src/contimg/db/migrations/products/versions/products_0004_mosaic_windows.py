"""Mosaic windows: which automatic mosaic windows were claimed, built, found empty or failed.

Revision ID: products_0004
Revises: products_0003
Create Date: 2026-11-25

The scheduler claims a window by inserting its row (the primary key makes a
second claim fail), so the same window is never built twice, even by several
scheduler processes; a claim left by a killed scheduler expires.
"""

from contimg.db.migrations.ddl import dialect, run_script

revision = "products_0004"
down_revision = "products_0003"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE IF NOT EXISTS mosaic_windows (
    window_key TEXT PRIMARY KEY,           -- '<start ISO>/<length s>s/dec<pointing Dec>'
    start_mjd {real} NOT NULL,             -- Window start (UTC MJD, inclusive)
    end_mjd {real} NOT NULL,               -- Window end (exclusive)
    dec_min_deg {real} NOT NULL,           -- Pointing-Dec band of the inputs
    dec_max_deg {real} NOT NULL,
    state TEXT NOT NULL,                   -- 'building' | 'done' | 'empty' | 'failed'
    claimed_by TEXT,                       -- Scheduler id holding the claim
    claimed_at {real},                     -- Unix timestamp of the claim
    attempts INTEGER NOT NULL DEFAULT 0,
    mosaic_path TEXT,                      -- mosaics.path once built
    error_message TEXT,
    updated_at {real} NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_mosaic_windows_start ON mosaic_windows(start_mjd);
CREATE INDEX IF NOT EXISTS idx_mosaic_windows_state ON mosaic_windows(state);
"""

DOWNGRADE = """
DROP INDEX IF EXISTS idx_mosaic_windows_state;
DROP INDEX IF EXISTS idx_mosaic_windows_start;
DROP TABLE IF EXISTS mosaic_windows;
"""


def upgrade() -> None:
    real = "REAL" if dialect() == "sqlite" else "DOUBLE PRECISION"
    run_script(UPGRADE.format(real=real))


def downgrade() -> None:
    run_script(DOWNGRADE)
