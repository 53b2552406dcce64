"""Stored relative file paths become absolute (data only; no schema change).

Revision ID: products_0006
Revises: products_0005
Create Date: 2026-12-02

The spec's columns are full paths ("Full path to MS", "Full path to image file"),
but a relative ``--home`` once stored paths relative to the writer's working
directory. Each relative path whose file is found is rewritten to the file's
absolute, normalised path (see :mod:`contimg.db.migrations.abspaths` for where a
file is looked for); the others are kept and reported. Downgrade keeps the absolute
paths.
"""

from contimg.db.migrations import abspaths

revision = "products_0006"
down_revision = "products_0005"
branch_labels = None
depends_on = None

MS_COLUMNS = (
    "path", "start_mjd", "end_mjd", "mid_mjd", "processed_at", "status", "stage",
    "stage_updated_at", "cal_applied", "imagename", "field_name", "pointing_ra_deg",
    "pointing_dec_deg",
)  # fmt: skip
IMAGE_COLUMNS = (
    "id", "path", "ms_path", "created_at", "type", "format", "beam_major_arcsec",
    "beam_minor_arcsec", "beam_pa_deg", "noise_jy", "dynamic_range", "pbcor", "field_name",
    "center_ra_deg", "center_dec_deg", "imsize_x", "imsize_y", "cellsize_arcsec", "freq_ghz",
    "bandwidth_mhz", "integration_sec",
)  # fmt: skip


def _steps(resolve: abspaths.Resolver) -> None:
    abspaths.rekey("ms_index", "path", MS_COLUMNS, [("images", "ms_path")], resolve)
    abspaths.rewrite("ms_index", "imagename", resolve)
    abspaths.rekey(
        "images", "path", IMAGE_COLUMNS, [("photometry", "image_path")], resolve, id_column="id"
    )
    abspaths.rewrite("image_normalisation", "image_path", resolve, unique=True)
    abspaths.rewrite("mosaics", "path", resolve, unique=True)
    abspaths.rewrite("mosaics", "thumbnail_path", resolve)
    abspaths.rewrite("mosaic_windows", "mosaic_path", resolve)


def upgrade() -> None:
    abspaths.run(_steps)


def downgrade() -> None:
    pass  # the absolute paths name the same files; the relative ones were ambiguous
