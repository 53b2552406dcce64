"""Tables of ``cal_registry.sqlite3``: the calibration table registry."""

import sqlalchemy as sa

from contimg.db.types import BIGINT, INTEGER, REAL, TEXT

metadata = sa.MetaData()

caltables = sa.Table(
    "caltables",
    metadata,
    sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("set_name", TEXT, nullable=False),
    sa.Column("path", TEXT, nullable=False, unique=True),
    sa.Column("table_type", TEXT, nullable=False),
    sa.Column("order_index", INTEGER, nullable=False),
    sa.Column("valid_start_mjd", REAL, nullable=False),
    sa.Column("valid_end_mjd", REAL, nullable=False),
    sa.Column("created_at", REAL, nullable=False),
    sa.Column("active", INTEGER, server_default=sa.text("1")),
    sa.Index("idx_caltables_set", "set_name"),
    sa.Index("idx_caltables_valid", "valid_start_mjd", "valid_end_mjd"),
    sa.Index("idx_caltables_active", "active"),
    sqlite_autoincrement=True,
)
