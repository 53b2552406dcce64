"""Keep the SQLite cone index equal to ``sources`` whatever writes it.

Revision ID: master_sources_0003
Revises: master_sources_0002
Create Date: 2026-12-02

Before this revision ``sources_healpix`` (the SQLite cone index, a copy of
``sources`` keyed by HEALPix pixel) was written only by ``contimg catalog build``,
so a catalog adopted from the spec's DDL, or rows another program wrote into
``sources``, were invisible to cone searches. This revision (SQLite only; on
PostgreSQL q3c indexes ``sources`` itself and nothing changes):

* adds ``sources_healpix_pending`` (the ids of ``sources`` rows written since the
  copy was last brought up to date) and three triggers on ``sources`` that fill it
  on every INSERT, UPDATE (including UPSERT and REPLACE) and DELETE; they also
  refuse a NULL ``source_id``;
* rebuilds ``sources_healpix`` from ``sources`` (an adopted catalog is indexed
  here; a catalog written by other tools at revision 0002 is made exact again).

Cone searches read the copy except for pending ids, which they read from
``sources`` (see :mod:`contimg.catalog.index` and docs/catalog.md). The spec's
``sources`` table, its indexes and its views are untouched.

Downgrade drops the triggers and the pending table; ``sources_healpix`` keeps its
rows (revision 0002 has no guarantee about them; upgrading again rebuilds it).
"""

from alembic import op

from contimg.catalog import index
from contimg.db.migrations.ddl import dialect, run_script

revision = "master_sources_0003"
down_revision = "master_sources_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if dialect() != "sqlite":
        return
    run_script(index.PENDING_SQL)
    conn = op.get_bind()
    index.create_triggers(conn)
    index.rebuild(conn)


def downgrade() -> None:
    if dialect() != "sqlite":
        return
    for name in reversed(index.TRIGGER_NAMES):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute(f"DROP TABLE {index.PENDING_TABLE}")
