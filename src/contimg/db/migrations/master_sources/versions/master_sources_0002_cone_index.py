"""Cone-search index and build record for the master catalog.

Revision ID: master_sources_0002
Revises: master_sources_0001
Create Date: 2026-11-25

The spec's ``sources`` table and its two views are left exactly as they are
(the views are ``SELECT * FROM sources``, so a new column on ``sources`` would
change their columns on SQLite). Added beside them:

* ``sources_healpix``: the SQLite cone-search index, a copy of every
  ``sources`` row keyed by its nested HEALPix pixel at order 16 (nside 65536,
  ~3.2 arcsec pixels). The primary key (hpx, source_id) is the index and the
  table is WITHOUT ROWID, so the rows of a pixel range are stored together and
  a cone is a few contiguous b-tree scans with no look-ups into ``sources``.
  ``x``, ``y``, ``z`` is the unit vector of the position, so that the exact
  cone test (chord length) is plain arithmetic inside the query.
  The catalog build writes it with ``sources``. On PostgreSQL the table exists
  (one schema on both backends) but stays empty: q3c does that job.
* on PostgreSQL, the q3c extension and the index ``idx_sources_q3c`` on
  ``q3c_ang2ipix(ra_deg, dec_deg)`` that ``q3c_radial_query`` uses.
* ``catalog_builds``: provenance of the catalog (input files, radius, counts).

Downgrade drops exactly these; the q3c extension is left installed (other
schemas of the database may use it).
"""

from contimg.db.migrations.ddl import dialect, run_script

revision = "master_sources_0002"
down_revision = "master_sources_0001"
branch_labels = None
depends_on = None

BUILDS = """
CREATE TABLE catalog_builds (
    build_id {pk},
    built_at {real} NOT NULL,
    match_radius_arcsec {real} NOT NULL,
    nvss_path TEXT NOT NULL,
    first_path TEXT,
    vlass_path TEXT,
    n_nvss INTEGER NOT NULL,
    n_first INTEGER,
    n_vlass INTEGER,
    n_first_matched INTEGER,
    n_vlass_matched INTEGER,
    healpix_order INTEGER NOT NULL,
    duration_s {real},
    contimg_version TEXT
);
"""

SQLITE = """
CREATE TABLE sources_healpix (
    hpx INTEGER NOT NULL,
    source_id TEXT NOT NULL,
    x REAL NOT NULL,
    y REAL NOT NULL,
    z REAL NOT NULL,
    ra_deg REAL NOT NULL,
    dec_deg REAL NOT NULL,
    s_nvss REAL,
    snr_nvss REAL,
    s_vlass REAL,
    alpha REAL,
    resolved_flag INTEGER DEFAULT 0,
    confusion_flag INTEGER DEFAULT 0,
    first_size_maj_arcsec REAL,
    first_size_min_arcsec REAL,
    first_size_pa_deg REAL,
    PRIMARY KEY (hpx, source_id)
) WITHOUT ROWID;
""" + BUILDS.format(pk="INTEGER PRIMARY KEY", real="REAL")

POSTGRESQL = """
CREATE EXTENSION IF NOT EXISTS q3c SCHEMA public;
CREATE INDEX idx_sources_q3c ON sources (q3c_ang2ipix(ra_deg, dec_deg));
CREATE TABLE sources_healpix (
    hpx BIGINT NOT NULL,
    source_id TEXT NOT NULL,
    x DOUBLE PRECISION NOT NULL,
    y DOUBLE PRECISION NOT NULL,
    z DOUBLE PRECISION NOT NULL,
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
    first_size_pa_deg DOUBLE PRECISION,
    PRIMARY KEY (hpx, source_id)
);
""" + BUILDS.format(pk="SERIAL PRIMARY KEY", real="DOUBLE PRECISION")


def upgrade() -> None:
    run_script(SQLITE if dialect() == "sqlite" else POSTGRESQL)


def downgrade() -> None:
    if dialect() == "sqlite":
        run_script("DROP TABLE catalog_builds;\nDROP TABLE sources_healpix;")
    else:
        run_script(
            "DROP TABLE catalog_builds;\nDROP TABLE sources_healpix;\nDROP INDEX idx_sources_q3c;"
        )
