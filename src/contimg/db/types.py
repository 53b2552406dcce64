"""Column types shared by the table modules.

The spec declares SQLite affinities (TEXT, INTEGER, REAL). On PostgreSQL the
same columns are TEXT, INTEGER/BIGINT and DOUBLE PRECISION (a spec REAL is an
8-byte float in SQLite; PostgreSQL's REAL would be 4 bytes and lose MJD digits).
"""

import sqlalchemy as sa

TEXT = sa.Text()
INTEGER = sa.Integer()
REAL: sa.Double[float] = sa.Double()
BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
