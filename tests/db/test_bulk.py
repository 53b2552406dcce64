"""Driver-speed bulk inserts write exactly the rows given, inside the transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from contimg.db.engine import Databases
from contimg.db.master_sources import sources
from contimg.db.queries.bulk import insert_many

COLUMNS = ("source_id", "ra_deg", "dec_deg", "s_nvss", "snr_nvss")


def test_insert_many_round_trips(dbs: Databases) -> None:
    rows = [
        (f"NVSS J{i:06d}.0+000000", i * 0.1, -i * 0.01, None if i % 3 else 0.5, 12.5)
        for i in range(2500)
    ]
    with dbs.master_sources.write() as conn:
        assert insert_many(conn, sources, columns=COLUMNS, rows=iter(rows)) == 2500
    with dbs.master_sources.read() as conn:
        got = conn.execute(
            sa.select(*(sources.c[c] for c in COLUMNS)).order_by(sources.c.source_id)
        ).all()
        default = conn.execute(sa.select(sa.func.sum(sources.c.resolved_flag))).scalar_one()
    assert [tuple(r) for r in got] == rows
    assert default == 0


def test_insert_many_rolls_back_with_the_transaction(dbs: Databases) -> None:
    with pytest.raises(RuntimeError), dbs.master_sources.write() as conn:
        insert_many(conn, sources, columns=COLUMNS, rows=[("a", 1.0, 2.0, 0.1, 5.0)])
        raise RuntimeError("abort")
    with dbs.master_sources.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sources)).scalar_one() == 0


def test_insert_many_rejects_unknown_columns(dbs: Databases) -> None:
    with pytest.raises(ValueError, match="no column"), dbs.master_sources.write() as conn:
        insert_many(conn, sources, columns=("source_id", "bogus; DROP"), rows=[])


def test_missing_sqlite_database_is_a_clear_error_not_an_empty_file(tmp_path: Path) -> None:
    from contimg.config import get_settings
    from contimg.errors import ContimgError

    settings = get_settings(home=tmp_path)
    with pytest.raises(ContimgError, match="does not exist; create it with"):
        Databases(settings).products  # noqa: B018 - the access is the test
    assert not settings.sqlite_path("products").exists()
