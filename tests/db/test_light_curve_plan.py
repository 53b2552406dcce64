"""The light-curve queries read photometry through the covering index (products_0005).

A plan check, not a timing: if a query grows a column the index does not carry, or
the index is dropped, SQLite falls back to fetching ~1,000 scattered table rows per
light curve, and this test names the query that regressed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.queries import api_views, patterns
from tests.conftest import init_databases
from tests.factories import populate, source_id

QUERIES: dict[str, Callable[..., Any]] = {
    "patterns.flux_timeseries": patterns.flux_timeseries,
    "api_views.light_curve": api_views.light_curve,
}


@pytest.fixture
def sqlite_dbs(sqlite_settings: Settings) -> Iterator[Databases]:
    databases = init_databases(sqlite_settings)
    populate(databases, n_groups=4)
    with databases.products.write() as conn:
        conn.exec_driver_sql("ANALYZE")
    yield databases
    databases.dispose()


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_light_curve_reads_the_covering_index(sqlite_dbs: Databases, name: str) -> None:
    engine = sqlite_dbs.products.engine
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM photometry" in statement:
            seen.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        with sqlite_dbs.products.read() as conn:
            points = QUERIES[name](conn, source_id=source_id(1))
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    assert len(points) == 4
    assert len(seen) == 1, seen
    statement, params = seen[0]
    with sqlite_dbs.products.read() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
    details = [row[-1] for row in plan]
    assert any("COVERING INDEX idx_photometry_light_curve" in d for d in details), (
        f"{name} no longer reads photometry from the covering index: {details}"
    )
    assert not any("TEMP B-TREE" in d for d in details), f"{name} sorts: {details}"
