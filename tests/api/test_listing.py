"""The generic listing helper on both backends: whitelisted filters and sorts,
paging with a total count, NULLs last, cones across RA 0/360 and at the pole."""

from __future__ import annotations

import pytest

from contimg.db import products
from contimg.db.engine import Databases
from contimg.db.queries import api_views, listing
from contimg.db.queries.listing import Cone, Filter, ListingError


def _add(dbs: Databases, rows: list[tuple[str, float, float, float | None]]) -> None:
    with dbs.products.write() as conn:
        for source_id, ra, dec, chi2 in rows:
            conn.execute(
                products.variability_stats.insert().values(
                    source_id=source_id, ra_deg=ra, dec_deg=dec, chi2_nu=chi2, updated_at=0.0
                )
            )


def _ids(dbs: Databases, query: listing.Query, **kw: int) -> tuple[list[str], int]:
    with dbs.products.read() as conn:
        rows, total = listing.list_page(
            conn,
            api_views.VARIABILITY,
            query,
            limit=kw.get("limit", 100),
            offset=kw.get("offset", 0),
        )
    return [r["source_id"] for r in rows], total


def test_cone_across_ra_zero_and_pole(dbs: Databases) -> None:
    _add(
        dbs,
        [
            ("east", 359.9, 0.0, 1.0),
            ("west", 0.1, 0.0, 2.0),
            ("far", 180.0, 0.0, 3.0),
            ("pole_a", 0.0, 89.95, None),
            ("pole_b", 180.0, 89.95, 4.0),
            ("edge", 0.5, 0.0, 5.0),
        ],
    )
    ids, n = _ids(dbs, listing.Query.build(cone=Cone(0.0, 0.0, 0.2), sort="source_id"))
    assert ids == ["east", "west"] and n == 2
    ids, _ = _ids(dbs, listing.Query.build(cone=Cone(90.0, 90.0, 0.11), sort="source_id"))
    assert ids == ["pole_a", "pole_b"]  # 0.1 deg apart across the pole
    ids, _ = _ids(dbs, listing.Query.build(cone=Cone(0.0, 0.0, 0.5), sort="source_id"))
    assert "edge" in ids  # on the rim


def test_filters_sort_paging_nulls_last(dbs: Databases) -> None:
    _add(dbs, [(f"s{i}", 10.0 + i, 5.0, None if i == 3 else float(i)) for i in range(6)])
    ids, n = _ids(dbs, listing.Query.build(sort="-chi2_nu"))
    assert ids == ["s5", "s4", "s2", "s1", "s0", "s3"] and n == 6
    ids, _ = _ids(dbs, listing.Query.build(sort="chi2_nu"))
    assert ids == ["s0", "s1", "s2", "s4", "s5", "s3"]
    ids, n = _ids(dbs, listing.Query.build(sort="chi2_nu"), limit=2, offset=2)
    assert ids == ["s2", "s4"] and n == 6
    q = listing.Query.build([Filter("chi2_nu", "ge", 2.0), Filter("ra_deg", "lt", 15.0)])
    ids, n = _ids(dbs, q)
    assert sorted(ids) == ["s2", "s4"] and n == 2
    ids, _ = _ids(dbs, listing.Query.build([Filter("chi2_nu", "is_null")]))
    assert ids == ["s3"]
    ids, _ = _ids(dbs, listing.Query.build([Filter("source_id", "in", ["s1", "s9"])]))
    assert ids == ["s1"]
    pattern = listing.like_prefix("s_")  # '_' is literal, not a wildcard
    ids, _ = _ids(dbs, listing.Query.build([Filter("source_id", "like", pattern)]))
    assert ids == []


def test_only_whitelisted_columns(dbs: Databases) -> None:
    with pytest.raises(ListingError, match="cannot sort sources by 'x; drop table'"):
        _ids(dbs, listing.Query.build(sort="x; drop table"))
    with pytest.raises(ListingError, match="allowed: "):
        _ids(dbs, listing.Query.build([Filter("sqlite_master", "eq", 1)]))


def test_export_writers() -> None:
    rows = [{"a": 1, "b": None, "c": float("nan")}, {"a": 2, "b": "x,y", "c": 1.5}]
    assert "".join(listing.write_csv(rows, ["a", "b", "c"])) == 'a,b,c\n1,,\n2,"x,y",1.5\n'
    text = "".join(listing.write_json(iter(rows), ["a", "c"]))
    assert text == '[{"a": 1, "c": null},{"a": 2, "c": 1.5}]'
