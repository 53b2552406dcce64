"""Stored relative calibration table paths become absolute (data only).

Revision ID: cal_registry_0002
Revises: cal_registry_0001
Create Date: 2026-12-02

As products_0006, for ``caltables.path`` (see :mod:`contimg.db.migrations.abspaths`).
"""

from contimg.db.migrations import abspaths

revision = "cal_registry_0002"
down_revision = "cal_registry_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    abspaths.run(_steps)


def _steps(resolve: abspaths.Resolver) -> None:
    abspaths.rewrite("caltables", "path", resolve, unique=True)


def downgrade() -> None:
    pass  # the absolute paths name the same files; the relative ones were ambiguous
