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

from contimg.db.migrations.ddl import dialect

revision = "master_sources_0003"
down_revision = "master_sources_0002"
branch_labels = None
depends_on = None

PENDING_TABLE = "sources_healpix_pending"
TRIGGERS = (
    "sources_healpix_track_insert",
    "sources_healpix_track_update",
    "sources_healpix_track_delete",
)
# The statements as of this revision (contimg.catalog.index keeps the same text for
# 'contimg catalog reindex', which re-creates missing triggers; a test compares them).
STATEMENTS = (
    """
CREATE TABLE sources_healpix_pending (
    source_id TEXT PRIMARY KEY
) WITHOUT ROWID
""",
    """
CREATE TRIGGER sources_healpix_track_insert AFTER INSERT ON sources
BEGIN
    SELECT RAISE(ABORT, 'master_sources.sources: source_id must not be NULL')
        WHERE NEW.source_id IS NULL;
    INSERT OR IGNORE INTO sources_healpix_pending(source_id) VALUES (NEW.source_id);
END
""",
    """
CREATE TRIGGER sources_healpix_track_update AFTER UPDATE ON sources
BEGIN
    SELECT RAISE(ABORT, 'master_sources.sources: source_id must not be NULL')
        WHERE NEW.source_id IS NULL;
    INSERT OR IGNORE INTO sources_healpix_pending(source_id) VALUES (OLD.source_id);
    INSERT OR IGNORE INTO sources_healpix_pending(source_id) VALUES (NEW.source_id);
END
""",
    """
CREATE TRIGGER sources_healpix_track_delete AFTER DELETE ON sources
BEGIN
    INSERT OR IGNORE INTO sources_healpix_pending(source_id)
        SELECT OLD.source_id WHERE OLD.source_id IS NOT NULL;
END
""",
)


def upgrade() -> None:
    if dialect() != "sqlite":
        return
    for statement in STATEMENTS:
        op.execute(statement)
    # The pixels are computed in Python (astropy-healpix), as the build does.
    from contimg.catalog.index import rebuild

    rebuild(op.get_bind())


def downgrade() -> None:
    if dialect() != "sqlite":
        return
    for name in reversed(TRIGGERS):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute(f"DROP TABLE {PENDING_TABLE}")
