"""Row models and Table objects agree with the live schema on both backends."""

from __future__ import annotations

import sqlalchemy as sa

from contimg.db import cal_registry, ingest, master_sources, products
from contimg.db.engine import Databases
from contimg.models import ROW_MODELS
from tests.helpers import SPEC_TABLES, spec_columns

METADATA = {
    "ingest": ingest.metadata,
    "cal_registry": cal_registry.metadata,
    "products": products.metadata,
    "master_sources": master_sources.metadata,
}


def test_every_spec_table_has_a_row_model_with_its_columns() -> None:
    for table, columns in spec_columns().items():
        assert list(ROW_MODELS[table].model_fields)[: len(columns)] == columns, table


def test_table_objects_match_the_migrated_schema(dbs: Databases) -> None:
    """Every Table object (spec tables and those migrations add) matches head."""
    for name, metadata in METADATA.items():
        with dbs[name].read() as conn:
            insp = sa.inspect(conn)
            live_tables = set(insp.get_table_names()) - {"alembic_version"}
            assert set(metadata.tables) <= live_tables, name
            for table in metadata.tables.values():
                live = {c["name"]: c for c in insp.get_columns(table.name)}
                assert set(live) == {c.name for c in table.columns}, table.name
                for col in table.columns:
                    assert (
                        bool(live[col.name]["nullable"]) == (col.nullable and not col.primary_key)
                        or col.primary_key
                    ), f"{table.name}.{col.name}"
                pk = insp.get_pk_constraint(table.name)["constrained_columns"]
                assert pk == [c.name for c in table.primary_key.columns], table.name


def test_spec_tables_are_all_described() -> None:
    described = {t.name for tables in SPEC_TABLES.values() for t in tables}
    assert described == set(spec_columns())
