"""Tables of ``products.sqlite3``: Measurement Sets, images, photometry, variability,
ESE candidates and mosaics."""

import sqlalchemy as sa

from contimg.db.types import BIGINT, INTEGER, REAL, TEXT

metadata = sa.MetaData()

ms_index = sa.Table(
    "ms_index",
    metadata,
    sa.Column("path", TEXT, primary_key=True),
    sa.Column("start_mjd", REAL),
    sa.Column("end_mjd", REAL),
    sa.Column("mid_mjd", REAL),
    sa.Column("processed_at", REAL),
    sa.Column("status", TEXT),
    sa.Column("stage", TEXT),
    sa.Column("stage_updated_at", REAL),
    sa.Column("cal_applied", INTEGER, server_default=sa.text("0")),
    sa.Column("imagename", TEXT),
    sa.Column("field_name", TEXT),
    sa.Column("pointing_ra_deg", REAL),
    sa.Column("pointing_dec_deg", REAL),
    sa.Index("idx_ms_index_stage_path", "stage", "path"),
    sa.Index("idx_ms_index_status", "status"),
    sa.Index("idx_ms_index_mjd", "mid_mjd"),
    sa.Index("idx_ms_index_field", "field_name"),
)

images = sa.Table(
    "images",
    metadata,
    sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("path", TEXT, nullable=False, unique=True),
    sa.Column("ms_path", TEXT, sa.ForeignKey("ms_index.path"), nullable=False),
    sa.Column("created_at", REAL, nullable=False),
    sa.Column("type", TEXT, nullable=False),
    sa.Column("format", TEXT, server_default=sa.text("'fits'")),
    sa.Column("beam_major_arcsec", REAL),
    sa.Column("beam_minor_arcsec", REAL),
    sa.Column("beam_pa_deg", REAL),
    sa.Column("noise_jy", REAL),
    sa.Column("dynamic_range", REAL),
    sa.Column("pbcor", INTEGER, server_default=sa.text("0")),
    sa.Column("field_name", TEXT),
    sa.Column("center_ra_deg", REAL),
    sa.Column("center_dec_deg", REAL),
    sa.Column("imsize_x", INTEGER),
    sa.Column("imsize_y", INTEGER),
    sa.Column("cellsize_arcsec", REAL),
    sa.Column("freq_ghz", REAL),
    sa.Column("bandwidth_mhz", REAL),
    sa.Column("integration_sec", REAL),
    sa.Index("idx_images_ms_path", "ms_path"),
    sa.Index("idx_images_type", "type"),
    sa.Index("idx_images_created", "created_at"),
    sa.Index("idx_images_field", "field_name"),
    sqlite_autoincrement=True,
)

photometry = sa.Table(
    "photometry",
    metadata,
    sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("image_path", TEXT, sa.ForeignKey("images.path"), nullable=False),
    sa.Column("source_id", TEXT, nullable=False),
    sa.Column("ra_deg", REAL, nullable=False),
    sa.Column("dec_deg", REAL, nullable=False),
    sa.Column("nvss_flux_mjy", REAL),
    sa.Column("peak_jyb", REAL, nullable=False),
    sa.Column("peak_err_jyb", REAL),
    sa.Column("snr", REAL),
    sa.Column("measured_at", REAL, nullable=False),
    sa.Column("mjd", REAL),
    sa.Column("sep_from_center_deg", REAL),
    sa.Column("flags", INTEGER, server_default=sa.text("0")),
    # products_0002: raw values and the image's normalisation (science.md section 2)
    sa.Column("raw_peak_jyb", REAL),
    sa.Column("raw_peak_err_jyb", REAL),
    sa.Column("norm_factor", REAL),
    sa.Column("norm_factor_err", REAL),
    sa.Index("idx_photometry_image", "image_path"),
    sa.Index("idx_photometry_source", "source_id"),
    sa.Index("idx_photometry_mjd", "mjd"),
    sa.Index("idx_photometry_source_mjd", "source_id", "mjd"),
    # products_0005: covering index for the light curve (PostgreSQL: the columns after
    # id are INCLUDE columns).
    sa.Index(
        "idx_photometry_light_curve",
        "source_id",
        "mjd",
        "id",
        "peak_jyb",
        "peak_err_jyb",
        "snr",
        "image_path",
        "flags",
        "raw_peak_jyb",
        "raw_peak_err_jyb",
    ),
    sqlite_autoincrement=True,
)

variability_stats = sa.Table(
    "variability_stats",
    metadata,
    sa.Column("source_id", TEXT, primary_key=True),
    sa.Column("ra_deg", REAL, nullable=False),
    sa.Column("dec_deg", REAL, nullable=False),
    sa.Column("nvss_flux_mjy", REAL),
    sa.Column("n_obs", INTEGER, server_default=sa.text("0")),
    sa.Column("mean_flux_mjy", REAL),
    sa.Column("std_flux_mjy", REAL),
    sa.Column("min_flux_mjy", REAL),
    sa.Column("max_flux_mjy", REAL),
    sa.Column("chi2_nu", REAL),
    sa.Column("sigma_deviation", REAL),
    sa.Column("eta_metric", REAL),
    sa.Column("last_measured_at", REAL),
    sa.Column("last_mjd", REAL),
    sa.Column("updated_at", REAL, nullable=False),
    sa.Index("idx_variability_chi2", "chi2_nu"),
    sa.Index("idx_variability_sigma", "sigma_deviation"),
    sa.Index("idx_variability_eta", "eta_metric"),
    sa.Index("idx_variability_last_mjd", "last_mjd"),
)

ese_candidates = sa.Table(
    "ese_candidates",
    metadata,
    sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("source_id", TEXT, sa.ForeignKey("variability_stats.source_id"), nullable=False),
    sa.Column("flagged_at", REAL, nullable=False),
    sa.Column("flagged_by", TEXT, server_default=sa.text("'auto'")),
    sa.Column("significance", REAL, nullable=False),
    sa.Column("flag_type", TEXT, nullable=False),
    sa.Column("notes", TEXT),
    sa.Column("status", TEXT, server_default=sa.text("'active'")),
    sa.Column("investigated_at", REAL),
    sa.Column("dismissed_at", REAL),
    # products_0007: why it was flagged (JSON: rule, significance, threshold, epochs)
    sa.Column("reason", TEXT),
    sa.Index("idx_ese_source", "source_id"),
    sa.Index("idx_ese_status", "status"),
    sa.Index("idx_ese_flagged", "flagged_at"),
    sqlite_autoincrement=True,
)

# products_0003: at most one active candidate per source and flag type.
sa.Index(
    "uq_ese_open",
    ese_candidates.c.source_id,
    ese_candidates.c.flag_type,
    unique=True,
    sqlite_where=ese_candidates.c.status == "active",
    postgresql_where=ese_candidates.c.status == "active",
)

# products_0002: frozen normalisation baselines and per-image corrections.
normalisation_baselines = sa.Table(
    "normalisation_baselines",
    metadata,
    sa.Column("source_id", TEXT, primary_key=True),
    sa.Column("baseline_jyb", REAL, nullable=False),
    sa.Column("n_epochs", INTEGER, nullable=False),
    sa.Column("first_mjd", REAL),
    sa.Column("last_mjd", REAL),
    sa.Column("set_at", REAL, nullable=False),
)

image_normalisation = sa.Table(
    "image_normalisation",
    metadata,
    sa.Column("image_path", TEXT, primary_key=True),
    sa.Column("factor", REAL),
    sa.Column("factor_err", REAL),
    sa.Column("n_refs", INTEGER, nullable=False),
    sa.Column("n_rejected", INTEGER, nullable=False),
    sa.Column("computed_at", REAL, nullable=False),
    # products_0008: the epoch-to-epoch noise over the rms map's (faint sources' pairs)
    sa.Column("noise_scale", REAL),
    sa.Column("noise_pairs", INTEGER),
    sa.Column("noise_pair_image", TEXT),
)

# products_0007: image quality control (a rejected image's photometry is flagged).
image_qc = sa.Table(
    "image_qc",
    metadata,
    sa.Column("image_path", TEXT, primary_key=True),
    sa.Column("status", TEXT, nullable=False),
    sa.Column("reasons", TEXT),
    sa.Column("noise_jy", REAL),
    sa.Column("beam_major_arcsec", REAL),
    sa.Column("beam_minor_arcsec", REAL),
    sa.Column("beam_pa_deg", REAL),
    sa.Column("blanked_fraction", REAL),
    sa.Column("norm_factor", REAL),
    sa.Column("checked_at", REAL, nullable=False),
    sa.Index("idx_image_qc_status", "status"),
)

# products_0003: running state of incremental variability statistics.
variability_sums = sa.Table(
    "variability_sums",
    metadata,
    sa.Column("source_id", TEXT, primary_key=True),
    sa.Column("state", TEXT, nullable=False),
    sa.Column("last_good_mjd", REAL),
    sa.Column("last_good_flux_mjy", REAL),
    sa.Column("last_good_err_mjy", REAL),
    sa.Column("updated_at", REAL, nullable=False),
)

mosaics = sa.Table(
    "mosaics",
    metadata,
    sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("path", TEXT, nullable=False, unique=True),
    sa.Column("name", TEXT, nullable=False),
    sa.Column("created_at", REAL, nullable=False),
    sa.Column("start_mjd", REAL, nullable=False),
    sa.Column("end_mjd", REAL, nullable=False),
    sa.Column("integration_sec", REAL),
    sa.Column("n_images", INTEGER),
    sa.Column("center_ra_deg", REAL),
    sa.Column("center_dec_deg", REAL),
    sa.Column("dec_min_deg", REAL),
    sa.Column("dec_max_deg", REAL),
    sa.Column("noise_jy", REAL),
    sa.Column("beam_major_arcsec", REAL),
    sa.Column("beam_minor_arcsec", REAL),
    sa.Column("beam_pa_deg", REAL),
    sa.Column("n_sources", INTEGER),
    sa.Column("thumbnail_path", TEXT),
    sa.Index("idx_mosaics_created", "created_at"),
    sa.Index("idx_mosaics_mjd", "start_mjd", "end_mjd"),
    sqlite_autoincrement=True,
)

# products_0004: automatic mosaic windows (claims, so no window is built twice).
mosaic_windows = sa.Table(
    "mosaic_windows",
    metadata,
    sa.Column("window_key", TEXT, primary_key=True),
    sa.Column("start_mjd", REAL, nullable=False),
    sa.Column("end_mjd", REAL, nullable=False),
    sa.Column("dec_min_deg", REAL, nullable=False),
    sa.Column("dec_max_deg", REAL, nullable=False),
    sa.Column("state", TEXT, nullable=False),
    sa.Column("claimed_by", TEXT),
    sa.Column("claimed_at", REAL),
    sa.Column("attempts", INTEGER, nullable=False, server_default=sa.text("0")),
    sa.Column("mosaic_path", TEXT),
    sa.Column("error_message", TEXT),
    sa.Column("updated_at", REAL, nullable=False),
    sa.Index("idx_mosaic_windows_start", "start_mjd"),
    sa.Index("idx_mosaic_windows_state", "state"),
)
