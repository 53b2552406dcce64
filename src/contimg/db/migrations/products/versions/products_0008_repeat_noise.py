"""The epoch-to-epoch noise scale of each image (docs/photometry.md, "Noise that repeats").

Revision ID: products_0008
Revises: products_0007
Create Date: 2026-12-03

A background-rms map counts sidelobes and confusion that are the same every time the
same field is observed at the same pointing; they do not scatter a light curve. Each
image's ``image_normalisation`` row now records the ratio of the noise between this
image and an earlier one of the same pointing (faint sources' flux differences) to
the rms map's prediction, which scales the thermal term of every normalised error:

* ``noise_scale``: that ratio (NULL: not measured, the rms map is used as it is);
* ``noise_pairs``: the number of faint sources it was measured on;
* ``noise_pair_image``: the earlier image it was compared with.
"""

from contimg.db.migrations.ddl import dialect, run_script

revision = "products_0008"
down_revision = "products_0007"
branch_labels = None
depends_on = None

SCRIPT = """
ALTER TABLE image_normalisation ADD COLUMN noise_scale {real};
ALTER TABLE image_normalisation ADD COLUMN noise_pairs INTEGER;
ALTER TABLE image_normalisation ADD COLUMN noise_pair_image TEXT;
"""

DOWN = """
ALTER TABLE image_normalisation DROP COLUMN noise_pair_image;
ALTER TABLE image_normalisation DROP COLUMN noise_pairs;
ALTER TABLE image_normalisation DROP COLUMN noise_scale;
"""


def _real() -> str:
    return "REAL" if dialect() == "sqlite" else "DOUBLE PRECISION"


def upgrade() -> None:
    run_script(SCRIPT.format(real=_real()))


def downgrade() -> None:
    run_script(DOWN)
