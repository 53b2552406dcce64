"""Baseline: the specification's master_sources.sqlite3 schema.

Revision ID: master_sources_0001
Revises:
Create Date: 2026-11-25

On SQLite this executes the specification's DDL verbatim; on PostgreSQL the
translation of docs/databases.md (the views are the same SQL).
"""

from contimg.db.migrations.ddl import dialect, run_script

revision = "master_sources_0001"
down_revision = None
branch_labels = None
depends_on = None

SQLITE = """
CREATE TABLE IF NOT EXISTS sources (
    source_id TEXT PRIMARY KEY,            -- NVSS ID
    ra_deg REAL NOT NULL,
    dec_deg REAL NOT NULL,
    s_nvss REAL,                           -- NVSS flux (Jy)
    snr_nvss REAL,                         -- NVSS S/N
    s_vlass REAL,                          -- VLASS flux (Jy)
    alpha REAL,                            -- Spectral index (NVSS:arrow_right:VLASS)
    resolved_flag INTEGER DEFAULT 0,       -- From FIRST deconvolved size
    confusion_flag INTEGER DEFAULT 0,      -- Multiple matches within radius
    first_size_maj_arcsec REAL,           -- FIRST major axis
    first_size_min_arcsec REAL,           -- FIRST minor axis
    first_size_pa_deg REAL                 -- FIRST position angle
);

CREATE INDEX IF NOT EXISTS idx_sources_ra_dec ON sources(ra_deg, dec_deg);
CREATE INDEX IF NOT EXISTS idx_sources_flux ON sources(s_nvss);
CREATE INDEX IF NOT EXISTS idx_sources_alpha ON sources(alpha);
"""

POSTGRESQL = """
CREATE TABLE sources (
    source_id TEXT PRIMARY KEY,
    ra_deg DOUBLE PRECISION NOT NULL,
    dec_deg DOUBLE PRECISION NOT NULL,
    s_nvss DOUBLE PRECISION,
    snr_nvss DOUBLE PRECISION,
    s_vlass DOUBLE PRECISION,
    alpha DOUBLE PRECISION,
    resolved_flag INTEGER DEFAULT 0,
    confusion_flag INTEGER DEFAULT 0,
    first_size_maj_arcsec DOUBLE PRECISION,
    first_size_min_arcsec DOUBLE PRECISION,
    first_size_pa_deg DOUBLE PRECISION
);
CREATE INDEX idx_sources_ra_dec ON sources(ra_deg, dec_deg);
CREATE INDEX idx_sources_flux ON sources(s_nvss);
CREATE INDEX idx_sources_alpha ON sources(alpha);
"""

VIEWS = """
CREATE VIEW IF NOT EXISTS good_references AS
SELECT * FROM sources
WHERE s_nvss IS NOT NULL
  AND snr_nvss >= 7.0
  AND (alpha BETWEEN -1.5 AND 0.5 OR alpha IS NULL)
  AND resolved_flag = 0
  AND confusion_flag = 0;

CREATE VIEW IF NOT EXISTS final_references AS
SELECT * FROM good_references
WHERE snr_nvss >= 10.0;
"""


def upgrade() -> None:
    if dialect() == "sqlite":
        run_script(SQLITE + VIEWS)
    else:
        run_script(POSTGRESQL + VIEWS.replace("CREATE VIEW IF NOT EXISTS", "CREATE VIEW"))


def downgrade() -> None:
    run_script(
        """
        DROP VIEW final_references;
        DROP VIEW good_references;
        DROP TABLE sources;
        """
    )
