"""Tables of ``db/master_sources.sqlite3``: the NVSS x FIRST x VLASS master catalog."""

import sqlalchemy as sa

from contimg.db.types import BIGINT, INTEGER, REAL, TEXT

metadata = sa.MetaData()

sources = sa.Table(
    "sources",
    metadata,
    sa.Column("source_id", TEXT, primary_key=True),
    sa.Column("ra_deg", REAL, nullable=False),
    sa.Column("dec_deg", REAL, nullable=False),
    sa.Column("s_nvss", REAL),
    sa.Column("snr_nvss", REAL),
    sa.Column("s_vlass", REAL),
    sa.Column("alpha", REAL),
    sa.Column("resolved_flag", INTEGER, server_default=sa.text("0")),
    sa.Column("confusion_flag", INTEGER, server_default=sa.text("0")),
    sa.Column("first_size_maj_arcsec", REAL),
    sa.Column("first_size_min_arcsec", REAL),
    sa.Column("first_size_pa_deg", REAL),
    sa.Index("idx_sources_ra_dec", "ra_deg", "dec_deg"),
    sa.Index("idx_sources_flux", "s_nvss"),
    sa.Index("idx_sources_alpha", "alpha"),
)

# PostgreSQL only (migration master_sources_0002): the q3c index of cone searches.
sa.Index("idx_sources_q3c", sa.func.q3c_ang2ipix(sources.c.ra_deg, sources.c.dec_deg)).ddl_if(
    dialect="postgresql"
)

# Migration master_sources_0002: the SQLite cone-search index, a copy of every
# sources row keyed by its nested HEALPix pixel (order 16); WITHOUT ROWID on
# SQLite. Written by the catalog build and rebuilt by migration master_sources_0003,
# which also adds (SQLite only, so not described here) ``sources_healpix_pending`` and
# the triggers on ``sources`` that fill it (contimg.catalog.index); empty on
# PostgreSQL (q3c does that job).
sources_healpix = sa.Table(
    "sources_healpix",
    metadata,
    sa.Column("hpx", BIGINT, primary_key=True),
    sa.Column("source_id", TEXT, primary_key=True),
    sa.Column("x", REAL, nullable=False),
    sa.Column("y", REAL, nullable=False),
    sa.Column("z", REAL, nullable=False),
    *(
        sa.Column(c.name, c.type, nullable=c.nullable, server_default=c.server_default)
        for c in sources.columns
        if c.name != "source_id"
    ),
    sqlite_with_rowid=False,
)

# Migration master_sources_0002: provenance of the catalog build.
catalog_builds = sa.Table(
    "catalog_builds",
    metadata,
    sa.Column("build_id", INTEGER, primary_key=True, autoincrement=True),
    sa.Column("built_at", REAL, nullable=False),
    sa.Column("match_radius_arcsec", REAL, nullable=False),
    sa.Column("nvss_path", TEXT, nullable=False),
    sa.Column("first_path", TEXT),
    sa.Column("vlass_path", TEXT),
    sa.Column("n_nvss", INTEGER, nullable=False),
    sa.Column("n_first", INTEGER),
    sa.Column("n_vlass", INTEGER),
    sa.Column("n_first_matched", INTEGER),
    sa.Column("n_vlass_matched", INTEGER),
    sa.Column("healpix_order", INTEGER, nullable=False),
    sa.Column("duration_s", REAL),
    sa.Column("contimg_version", TEXT),
)

# The two views, described as selectables for queries (they are created by migrations).
good_references = sa.table("good_references", *(sa.column(c.name) for c in sources.columns))
final_references = sa.table("final_references", *(sa.column(c.name) for c in sources.columns))
