"""Stored relative subband file paths become absolute (data only; no schema change).

Revision ID: ingest_0004
Revises: ingest_0002
Create Date: 2026-12-02

As products_0006, for the UVH5 paths of ``subband_files``, ``ingest_files`` and
``ingest_ignored`` (see :mod:`contimg.db.migrations.abspaths`).
"""

from contimg.db.migrations import abspaths

revision = "ingest_0004"
down_revision = "ingest_0003"
branch_labels = None
depends_on = None


def _steps(resolve: abspaths.Resolver) -> None:
    abspaths.rewrite("subband_files", "file_path", resolve)
    abspaths.rewrite("ingest_files", "file_path", resolve, unique=True)
    abspaths.rewrite("ingest_ignored", "file_path", resolve, unique=True)


def upgrade() -> None:
    abspaths.run(_steps)


def downgrade() -> None:
    pass  # the absolute paths name the same files; the relative ones were ambiguous
