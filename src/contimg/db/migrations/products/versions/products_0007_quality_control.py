"""Image quality control and the reasons of ESE candidates.

Revision ID: products_0007
Revises: products_0005
Create Date: 2026-12-02

* ``image_qc``: one row per measured image: ``status`` 'ok' or 'rejected', the
  ``reasons`` (JSON list of short texts naming the check and its value) and the
  quantities checked (robust noise, beam, blanked fraction, flux-scale correction).
  A rejected image's photometry rows carry the ``QC_REJECTED`` flag bit and never
  enter baselines, normalisation, variability statistics or ESE rules; nothing is
  deleted.
* ``ese_candidates.reason``: JSON describing why the candidate was flagged: the
  rule, its significance against the threshold applied (which accounts for the
  number of measurements tested), and the epochs involved. Updated whenever the
  candidate's significance is raised.
"""

from contimg.db.migrations.ddl import dialect, run_script

revision = "products_0007"
down_revision = "products_0006"
branch_labels = None
depends_on = None

SCRIPT = """
CREATE TABLE image_qc (
    image_path TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    reasons TEXT,
    noise_jy {real},
    beam_major_arcsec {real},
    beam_minor_arcsec {real},
    beam_pa_deg {real},
    blanked_fraction {real},
    norm_factor {real},
    checked_at {real} NOT NULL
);
CREATE INDEX idx_image_qc_status ON image_qc(status);
ALTER TABLE ese_candidates ADD COLUMN reason TEXT;
"""

DOWN = """
ALTER TABLE ese_candidates DROP COLUMN reason;
DROP INDEX idx_image_qc_status;
DROP TABLE image_qc;
"""


def _real() -> str:
    return "REAL" if dialect() == "sqlite" else "DOUBLE PRECISION"


def upgrade() -> None:
    run_script(SCRIPT.format(real=_real()))


def downgrade() -> None:
    run_script(DOWN)
