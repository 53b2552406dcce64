"""Differential normalisation: raw flux and correction columns, baselines, per-image corrections.

Revision ID: products_0002
Revises: products_0001
Create Date: 2026-11-25

science.md section 2. ``photometry.peak_jyb`` / ``peak_err_jyb`` hold normalised
values; the raw measurement and the image's correction are kept beside them:

* ``photometry.raw_peak_jyb``, ``raw_peak_err_jyb``: the forced-photometry values
  before normalisation (Jy/beam);
* ``photometry.norm_factor``, ``norm_factor_err``: the image's correction c and its
  standard error (NULL when the image could not be normalised);
* ``normalisation_baselines``: one frozen baseline per reference source;
* ``image_normalisation``: the correction of each image and how it was obtained.
"""

from contimg.db.migrations.ddl import dialect, run_script

revision = "products_0002"
down_revision = "products_0001"
branch_labels = None
depends_on = None

SCRIPT = """
ALTER TABLE photometry ADD COLUMN raw_peak_jyb {real};
ALTER TABLE photometry ADD COLUMN raw_peak_err_jyb {real};
ALTER TABLE photometry ADD COLUMN norm_factor {real};
ALTER TABLE photometry ADD COLUMN norm_factor_err {real};
CREATE TABLE normalisation_baselines (
    source_id TEXT PRIMARY KEY,
    baseline_jyb {real} NOT NULL,
    n_epochs INTEGER NOT NULL,
    first_mjd {real},
    last_mjd {real},
    set_at {real} NOT NULL
);
CREATE TABLE image_normalisation (
    image_path TEXT PRIMARY KEY,
    factor {real},
    factor_err {real},
    n_refs INTEGER NOT NULL,
    n_rejected INTEGER NOT NULL,
    computed_at {real} NOT NULL
);
"""

DOWN = """
DROP TABLE image_normalisation;
DROP TABLE normalisation_baselines;
ALTER TABLE photometry DROP COLUMN norm_factor_err;
ALTER TABLE photometry DROP COLUMN norm_factor;
ALTER TABLE photometry DROP COLUMN raw_peak_err_jyb;
ALTER TABLE photometry DROP COLUMN raw_peak_jyb;
"""


def _real() -> str:
    return "REAL" if dialect() == "sqlite" else "DOUBLE PRECISION"


def upgrade() -> None:
    run_script(SCRIPT.format(real=_real()))


def downgrade() -> None:
    run_script(DOWN)
