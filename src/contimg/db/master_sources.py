"""Tables of ``db/master_sources.sqlite3``: the NVSS x FIRST x VLASS master catalog."""

import sqlalchemy as sa

from contimg.db.types import INTEGER, REAL, TEXT

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

# The two views, described as selectables for queries (they are created by migrations).
good_references = sa.table("good_references", *(sa.column(c.name) for c in sources.columns))
final_references = sa.table("final_references", *(sa.column(c.name) for c in sources.columns))
