"""Baseline: the specification's products.sqlite3 schema.

Revision ID: products_0001
Revises:
Create Date: 2026-11-25

On SQLite this executes the specification's DDL verbatim; on PostgreSQL the
translation of docs/databases.md.
"""

from contimg.db.migrations.ddl import dialect, run_script

revision = "products_0001"
down_revision = None
branch_labels = None
depends_on = None

SQLITE = """
CREATE TABLE IF NOT EXISTS ms_index (
    path TEXT PRIMARY KEY,                 -- Full path to MS
    start_mjd REAL,
    end_mjd REAL,
    mid_mjd REAL,                          -- For time-based queries
    processed_at REAL,                     -- Unix timestamp
    status TEXT,                           -- 'ok' | 'failed' | 'flagged'
    stage TEXT,                            -- 'converted' | 'calibrated' | 'imaged' | 'photometry_complete'
    stage_updated_at REAL,                 -- Unix timestamp
    cal_applied INTEGER DEFAULT 0,         -- Boolean: calibration applied
    imagename TEXT,                        -- Path to primary image (if imaged)
    field_name TEXT,                       -- Field ID (e.g., 'J1234+42')
    pointing_ra_deg REAL,                  -- Pointing center RA
    pointing_dec_deg REAL                  -- Pointing center Dec
);

CREATE INDEX IF NOT EXISTS idx_ms_index_stage_path ON ms_index(stage, path);
CREATE INDEX IF NOT EXISTS idx_ms_index_status ON ms_index(status);
CREATE INDEX IF NOT EXISTS idx_ms_index_mjd ON ms_index(mid_mjd);
CREATE INDEX IF NOT EXISTS idx_ms_index_field ON ms_index(field_name);

CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,             -- Full path to image file
    ms_path TEXT NOT NULL,                 -- Source MS
    created_at REAL NOT NULL,              -- Unix timestamp
    type TEXT NOT NULL,                    -- 'image' | 'pbcor' | 'residual' | 'mosaic'
    format TEXT DEFAULT 'fits',            -- 'fits' | 'casa'
    beam_major_arcsec REAL,                -- Restoring beam major axis
    beam_minor_arcsec REAL,
    beam_pa_deg REAL,
    noise_jy REAL,                         -- Image RMS noise (Jy/beam)
    dynamic_range REAL,                    -- Peak / RMS
    pbcor INTEGER DEFAULT 0,               -- Boolean: primary beam corrected
    field_name TEXT,
    center_ra_deg REAL,
    center_dec_deg REAL,
    imsize_x INTEGER,
    imsize_y INTEGER,
    cellsize_arcsec REAL,
    freq_ghz REAL,
    bandwidth_mhz REAL,
    integration_sec REAL,                  -- Total integration time
    FOREIGN KEY (ms_path) REFERENCES ms_index(path)
);

CREATE INDEX IF NOT EXISTS idx_images_ms_path ON images(ms_path);
CREATE INDEX IF NOT EXISTS idx_images_type ON images(type);
CREATE INDEX IF NOT EXISTS idx_images_created ON images(created_at);
CREATE INDEX IF NOT EXISTS idx_images_field ON images(field_name);

CREATE TABLE IF NOT EXISTS photometry (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    image_path TEXT NOT NULL,              -- Which image
    source_id TEXT NOT NULL,               -- NVSS ID (e.g., 'NVSS J123456.7+420312')
    ra_deg REAL NOT NULL,
    dec_deg REAL NOT NULL,
    nvss_flux_mjy REAL,                    -- Reference NVSS flux
    peak_jyb REAL NOT NULL,                -- Measured peak (Jy/beam)
    peak_err_jyb REAL,                     -- Uncertainty
    snr REAL,                              -- S/N ratio
    measured_at REAL NOT NULL,             -- Unix timestamp
    mjd REAL,                              -- MJD of observation (for timeseries)
    sep_from_center_deg REAL,              -- Distance from image center
    flags INTEGER DEFAULT 0,               -- Bit flags for quality issues
    FOREIGN KEY (image_path) REFERENCES images(path)
);

CREATE INDEX IF NOT EXISTS idx_photometry_image ON photometry(image_path);
CREATE INDEX IF NOT EXISTS idx_photometry_source ON photometry(source_id);
CREATE INDEX IF NOT EXISTS idx_photometry_mjd ON photometry(mjd);
CREATE INDEX IF NOT EXISTS idx_photometry_source_mjd ON photometry(source_id, mjd);

CREATE TABLE IF NOT EXISTS variability_stats (
    source_id TEXT PRIMARY KEY,            -- NVSS ID
    ra_deg REAL NOT NULL,
    dec_deg REAL NOT NULL,
    nvss_flux_mjy REAL,
    n_obs INTEGER DEFAULT 0,               -- Number of measurements
    mean_flux_mjy REAL,                    -- Mean measured flux
    std_flux_mjy REAL,                     -- Standard deviation
    min_flux_mjy REAL,
    max_flux_mjy REAL,
    chi2_nu REAL,                          -- Reduced chi-square for constant model
    sigma_deviation REAL,                  -- Max deviation in sigma units
    eta_metric REAL,                       -- Weighted variance metric (Î·)
    last_measured_at REAL,                 -- Unix timestamp of last measurement
    last_mjd REAL,
    updated_at REAL NOT NULL               -- When stats were computed
);

CREATE INDEX IF NOT EXISTS idx_variability_chi2 ON variability_stats(chi2_nu);
CREATE INDEX IF NOT EXISTS idx_variability_sigma ON variability_stats(sigma_deviation);
CREATE INDEX IF NOT EXISTS idx_variability_eta ON variability_stats(eta_metric);
CREATE INDEX IF NOT EXISTS idx_variability_last_mjd ON variability_stats(last_mjd);

CREATE TABLE IF NOT EXISTS ese_candidates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id TEXT NOT NULL,               -- NVSS ID
    flagged_at REAL NOT NULL,              -- Unix timestamp
    flagged_by TEXT DEFAULT 'auto',        -- 'auto' | user email/ID
    significance REAL NOT NULL,            -- Chi-square or sigma value
    flag_type TEXT NOT NULL,               -- 'variability' | 'rapid_change' | 'user'
    notes TEXT,                            -- User notes
    status TEXT DEFAULT 'active',          -- 'active' | 'investigated' | 'dismissed'
    investigated_at REAL,                  -- When marked as investigated
    dismissed_at REAL,
    FOREIGN KEY (source_id) REFERENCES variability_stats(source_id)
);

CREATE INDEX IF NOT EXISTS idx_ese_source ON ese_candidates(source_id);
CREATE INDEX IF NOT EXISTS idx_ese_status ON ese_candidates(status);
CREATE INDEX IF NOT EXISTS idx_ese_flagged ON ese_candidates(flagged_at);

CREATE TABLE IF NOT EXISTS mosaics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,             -- Full path to mosaic FITS
    name TEXT NOT NULL,                    -- Descriptive name
    created_at REAL NOT NULL,              -- Unix timestamp
    start_mjd REAL NOT NULL,               -- Time range covered
    end_mjd REAL NOT NULL,
    integration_sec REAL,                  -- Total integration time
    n_images INTEGER,                      -- Number of input images
    center_ra_deg REAL,
    center_dec_deg REAL,
    dec_min_deg REAL,                      -- Coverage bounds
    dec_max_deg REAL,
    noise_jy REAL,                         -- Mosaic RMS noise
    beam_major_arcsec REAL,
    beam_minor_arcsec REAL,
    beam_pa_deg REAL,
    n_sources INTEGER,                     -- Source count
    thumbnail_path TEXT                    -- Path to PNG preview
);

CREATE INDEX IF NOT EXISTS idx_mosaics_created ON mosaics(created_at);
CREATE INDEX IF NOT EXISTS idx_mosaics_mjd ON mosaics(start_mjd, end_mjd);
"""

POSTGRESQL = """
CREATE TABLE ms_index (
    path TEXT PRIMARY KEY,
    start_mjd DOUBLE PRECISION,
    end_mjd DOUBLE PRECISION,
    mid_mjd DOUBLE PRECISION,
    processed_at DOUBLE PRECISION,
    status TEXT,
    stage TEXT,
    stage_updated_at DOUBLE PRECISION,
    cal_applied INTEGER DEFAULT 0,
    imagename TEXT,
    field_name TEXT,
    pointing_ra_deg DOUBLE PRECISION,
    pointing_dec_deg DOUBLE PRECISION
);

CREATE INDEX idx_ms_index_stage_path ON ms_index(stage, path);
CREATE INDEX idx_ms_index_status ON ms_index(status);
CREATE INDEX idx_ms_index_mjd ON ms_index(mid_mjd);
CREATE INDEX idx_ms_index_field ON ms_index(field_name);

CREATE TABLE images (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    ms_path TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    type TEXT NOT NULL,
    format TEXT DEFAULT 'fits',
    beam_major_arcsec DOUBLE PRECISION,
    beam_minor_arcsec DOUBLE PRECISION,
    beam_pa_deg DOUBLE PRECISION,
    noise_jy DOUBLE PRECISION,
    dynamic_range DOUBLE PRECISION,
    pbcor INTEGER DEFAULT 0,
    field_name TEXT,
    center_ra_deg DOUBLE PRECISION,
    center_dec_deg DOUBLE PRECISION,
    imsize_x INTEGER,
    imsize_y INTEGER,
    cellsize_arcsec DOUBLE PRECISION,
    freq_ghz DOUBLE PRECISION,
    bandwidth_mhz DOUBLE PRECISION,
    integration_sec DOUBLE PRECISION,
    FOREIGN KEY (ms_path) REFERENCES ms_index(path)
);

CREATE INDEX idx_images_ms_path ON images(ms_path);
CREATE INDEX idx_images_type ON images(type);
CREATE INDEX idx_images_created ON images(created_at);
CREATE INDEX idx_images_field ON images(field_name);

CREATE TABLE photometry (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    image_path TEXT NOT NULL,
    source_id TEXT NOT NULL,
    ra_deg DOUBLE PRECISION NOT NULL,
    dec_deg DOUBLE PRECISION NOT NULL,
    nvss_flux_mjy DOUBLE PRECISION,
    peak_jyb DOUBLE PRECISION NOT NULL,
    peak_err_jyb DOUBLE PRECISION,
    snr DOUBLE PRECISION,
    measured_at DOUBLE PRECISION NOT NULL,
    mjd DOUBLE PRECISION,
    sep_from_center_deg DOUBLE PRECISION,
    flags INTEGER DEFAULT 0,
    FOREIGN KEY (image_path) REFERENCES images(path)
);

CREATE INDEX idx_photometry_image ON photometry(image_path);
CREATE INDEX idx_photometry_source ON photometry(source_id);
CREATE INDEX idx_photometry_mjd ON photometry(mjd);
CREATE INDEX idx_photometry_source_mjd ON photometry(source_id, mjd);

CREATE TABLE variability_stats (
    source_id TEXT PRIMARY KEY,
    ra_deg DOUBLE PRECISION NOT NULL,
    dec_deg DOUBLE PRECISION NOT NULL,
    nvss_flux_mjy DOUBLE PRECISION,
    n_obs INTEGER DEFAULT 0,
    mean_flux_mjy DOUBLE PRECISION,
    std_flux_mjy DOUBLE PRECISION,
    min_flux_mjy DOUBLE PRECISION,
    max_flux_mjy DOUBLE PRECISION,
    chi2_nu DOUBLE PRECISION,
    sigma_deviation DOUBLE PRECISION,
    eta_metric DOUBLE PRECISION,
    last_measured_at DOUBLE PRECISION,
    last_mjd DOUBLE PRECISION,
    updated_at DOUBLE PRECISION NOT NULL
);

CREATE INDEX idx_variability_chi2 ON variability_stats(chi2_nu);
CREATE INDEX idx_variability_sigma ON variability_stats(sigma_deviation);
CREATE INDEX idx_variability_eta ON variability_stats(eta_metric);
CREATE INDEX idx_variability_last_mjd ON variability_stats(last_mjd);

CREATE TABLE ese_candidates (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    source_id TEXT NOT NULL,
    flagged_at DOUBLE PRECISION NOT NULL,
    flagged_by TEXT DEFAULT 'auto',
    significance DOUBLE PRECISION NOT NULL,
    flag_type TEXT NOT NULL,
    notes TEXT,
    status TEXT DEFAULT 'active',
    investigated_at DOUBLE PRECISION,
    dismissed_at DOUBLE PRECISION,
    FOREIGN KEY (source_id) REFERENCES variability_stats(source_id)
);

CREATE INDEX idx_ese_source ON ese_candidates(source_id);
CREATE INDEX idx_ese_status ON ese_candidates(status);
CREATE INDEX idx_ese_flagged ON ese_candidates(flagged_at);

CREATE TABLE mosaics (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    start_mjd DOUBLE PRECISION NOT NULL,
    end_mjd DOUBLE PRECISION NOT NULL,
    integration_sec DOUBLE PRECISION,
    n_images INTEGER,
    center_ra_deg DOUBLE PRECISION,
    center_dec_deg DOUBLE PRECISION,
    dec_min_deg DOUBLE PRECISION,
    dec_max_deg DOUBLE PRECISION,
    noise_jy DOUBLE PRECISION,
    beam_major_arcsec DOUBLE PRECISION,
    beam_minor_arcsec DOUBLE PRECISION,
    beam_pa_deg DOUBLE PRECISION,
    n_sources INTEGER,
    thumbnail_path TEXT
);

CREATE INDEX idx_mosaics_created ON mosaics(created_at);
CREATE INDEX idx_mosaics_mjd ON mosaics(start_mjd, end_mjd);
"""


def upgrade() -> None:
    run_script(SQLITE if dialect() == "sqlite" else POSTGRESQL)


def downgrade() -> None:
    run_script(
        """
        DROP TABLE mosaics;
        DROP TABLE ese_candidates;
        DROP TABLE variability_stats;
        DROP TABLE photometry;
        DROP TABLE images;
        DROP TABLE ms_index;
        """
    )
