"""One generic, safe list helper for every table listing of the API and the CLI.

A :class:`Listing` names a base ``SELECT`` and the columns a client may filter and
sort on (a whitelist: nothing the client sends becomes SQL text). :func:`list_page`
returns one page of rows and the count of the whole result; :func:`iter_rows`
streams the whole result (for CSV/JSON export) in chunks; :func:`write_csv` and
:func:`write_json` turn it into text.

Filters are :class:`Filter` values (column, operator, value); a cone filter
(:class:`Cone`) selects rows within a radius of a position using the spherical law
of cosines on columns in degrees (SQLite's math functions and PostgreSQL both have
``sin``/``cos``/``radians``), with a declination band first so an index can help.
Cones are right across RA = 0/360 and near the poles because the exact test is on
the sphere, not on an RA box.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.errors import ContimgError

Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "like", "is_null", "not_null"]

ListingRow = Mapping[str, Any]
"""One row of a listing: output column name -> value.

Generic on purpose: every :class:`Listing` (a dozen tables and joins, see
:mod:`api_views`) has its own columns, so the helpers here cannot name one row type;
the caller that knows the listing converts the row to its API model. ``Any`` rather
than ``object`` values because the column types depend on the listing too."""


class ListingError(ContimgError):
    """A filter or sort named a column or operator the listing does not allow.

    ``field`` names the request field at fault (``sort``, ``filter``...)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Filter:
    """``column <op> value`` on a whitelisted column of a :class:`Listing`."""

    column: str
    op: Op
    value: Any = None


@dataclass(frozen=True)
class Cone:
    """Rows whose (``ra_column``, ``dec_column``) lie within ``radius_deg`` of
    (``ra_deg``, ``dec_deg``)."""

    ra_deg: float
    dec_deg: float
    radius_deg: float
    ra_column: str = "ra_deg"
    dec_column: str = "dec_deg"


@dataclass(frozen=True)
class Listing:
    """A whitelisted view for listing.

    ``base`` is a ``SELECT`` (joins allowed) whose selected labels are the output
    columns; ``columns`` maps the names a client may filter or sort on to SQL
    expressions; ``key`` are column names appended to every ORDER BY so that
    paging is stable.
    """

    name: str
    base: sa.Select[Any]
    columns: Mapping[str, sa.ColumnElement[Any]]
    default_sort: str
    default_descending: bool = False
    key: tuple[str, ...] = ()
    output: tuple[str, ...] = field(default=())

    @property
    def output_columns(self) -> list[str]:
        """Names of the columns of each result row, in order."""
        if self.output:
            return list(self.output)
        return [str(c.key) for c in self.base.selected_columns]


@dataclass(frozen=True)
class Query:
    """What a client asked of a listing: filters, cone, sort and direction."""

    filters: tuple[Filter, ...] = ()
    cone: Cone | None = None
    sort: str | None = None
    descending: bool | None = None

    @classmethod
    def build(
        cls,
        filters: Iterable[Filter | None] = (),
        *,
        cone: Cone | None = None,
        sort: str | None = None,
    ) -> Query:
        """Drop ``None`` filters; ``sort`` may start with '-' for descending order."""
        descending = None
        if sort:
            descending = sort.startswith("-")
            sort = sort.lstrip("-+")
        return cls(tuple(f for f in filters if f is not None), cone, sort or None, descending)


def _column(listing: Listing, name: str, *, purpose: str) -> sa.ColumnElement[Any]:
    try:
        return listing.columns[name]
    except KeyError:
        allowed = ", ".join(sorted(listing.columns))
        raise ListingError(
            f"cannot {purpose} {listing.name} by {name!r}; allowed: {allowed}",
            field="sort" if purpose == "sort" else name,
        ) from None


def _condition(listing: Listing, flt: Filter) -> sa.ColumnElement[bool]:
    col = _column(listing, flt.column, purpose="filter")
    op, value = flt.op, flt.value
    compare = {
        "eq": col.__eq__,
        "ne": col.__ne__,
        "lt": col.__lt__,
        "le": col.__le__,
        "gt": col.__gt__,
        "ge": col.__ge__,
    }
    if op in compare:
        cond: sa.ColumnElement[bool] = compare[op](value)
        return cond
    if op == "in":
        return col.in_(list(value))
    if op == "like":
        return col.like(str(value), escape="\\")
    if op == "is_null":
        return col.is_(None)
    if op == "not_null":
        return col.is_not(None)
    raise ListingError(f"unknown filter operator {op!r}", field=flt.column)


def like_prefix(text: str) -> str:
    """A LIKE pattern matching values that start with ``text`` (wildcards escaped)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def like_contains(text: str) -> str:
    """A LIKE pattern matching values that contain ``text`` (wildcards escaped)."""
    return "%" + like_prefix(text)


def cone_condition(
    ra: sa.ColumnElement[Any], dec: sa.ColumnElement[Any], cone: Cone
) -> sa.ColumnElement[bool]:
    """SQL true for positions within the cone (degrees), right across RA 0/360 and
    at the poles: a declination band (index-friendly) AND the exact spherical test
    ``sin d0 sin d + cos d0 cos d cos(ra - ra0) >= cos r``."""
    r = min(max(cone.radius_deg, 0.0), 180.0)
    d0 = math.radians(cone.dec_deg)
    band = sa.and_(dec >= cone.dec_deg - r, dec <= cone.dec_deg + r)
    cos_sep = math.sin(d0) * sa.func.sin(sa.func.radians(dec)) + math.cos(d0) * sa.func.cos(
        sa.func.radians(dec)
    ) * sa.func.cos(sa.func.radians(ra - cone.ra_deg))
    # A hair of slack so a point exactly on the rim survives rounding.
    return sa.and_(band, cos_sep >= math.cos(math.radians(r)) - 1e-12)


def _filtered(listing: Listing, query: Query) -> sa.Select[Any]:
    stmt = listing.base
    conditions = [_condition(listing, f) for f in query.filters]
    if query.cone is not None:
        ra = _column(listing, query.cone.ra_column, purpose="filter")
        dec = _column(listing, query.cone.dec_column, purpose="filter")
        conditions.append(cone_condition(ra, dec, query.cone))
    if conditions:
        stmt = stmt.where(*conditions)
    return stmt


def _ordered(listing: Listing, stmt: sa.Select[Any], query: Query) -> sa.Select[Any]:
    name = query.sort or listing.default_sort
    descending = listing.default_descending if query.descending is None else query.descending
    col = _column(listing, name, purpose="sort")
    # NULLs last in both directions and on both backends.
    order: list[sa.ColumnElement[Any]] = [
        sa.case((col.is_(None), 1), else_=0),
        col.desc() if descending else col.asc(),
    ]
    for key in listing.key:
        if key != name:
            kcol = _column(listing, key, purpose="sort")
            order.append(kcol.desc() if descending else kcol.asc())
    return stmt.order_by(*order)


def check(listing: Listing, query: Query) -> None:
    """Raise :class:`ListingError` if ``query`` names a column or operator the
    listing does not allow (without touching the database)."""
    _ordered(listing, _filtered(listing, query), query)


def count(conn: Connection, listing: Listing, query: Query) -> int:
    """Number of rows of the whole (filtered) result."""
    sub = _filtered(listing, query).order_by(None).subquery()
    return int(conn.execute(sa.select(sa.func.count()).select_from(sub)).scalar_one())


def list_page(
    conn: Connection, listing: Listing, query: Query, *, limit: int, offset: int
) -> tuple[list[ListingRow], int]:
    """One page of the filtered, sorted result and the count of the whole result."""
    if limit < 0 or offset < 0:
        raise ListingError("limit and offset must not be negative", field="limit")
    stmt = _ordered(listing, _filtered(listing, query), query).limit(limit).offset(offset)
    rows: list[ListingRow] = [dict(r) for r in conn.execute(stmt).mappings()]
    total = count(conn, listing, query)
    return rows, total


def rows(
    conn: Connection, listing: Listing, query: Query, *, limit: int, offset: int = 0
) -> list[ListingRow]:
    """One page of the filtered, sorted result (without counting the whole result)."""
    stmt = _ordered(listing, _filtered(listing, query), query).limit(limit).offset(offset)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def first_row(conn: Connection, listing: Listing, *, column: str, value: Any) -> ListingRow | None:
    """The first row of ``listing`` whose ``column`` equals ``value`` (no count query)."""
    query = Query.build([Filter(column, "eq", value)])
    stmt = _ordered(listing, _filtered(listing, query), query).limit(1)
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


def iter_rows(
    conn: Connection, listing: Listing, query: Query, *, chunk: int = 2000
) -> Iterator[ListingRow]:
    """Every row of the filtered, sorted result, fetched ``chunk`` rows at a time."""
    stmt = _ordered(listing, _filtered(listing, query), query)
    result = conn.execution_options(yield_per=chunk).execute(stmt).mappings()
    for row in result:
        yield dict(row)


def plain(value: Any) -> Any:
    """A JSON-safe value: Decimal as int/float, NaN and infinities as None."""
    if isinstance(value, Decimal):  # PostgreSQL's SUM of integers
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_csv(rows: Iterable[ListingRow], columns: Sequence[str]) -> Iterator[str]:
    """CSV text (header first), a chunk of lines at a time. NULL is an empty cell."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for n, row in enumerate(rows, start=1):
        writer.writerow(["" if row.get(c) is None else plain(row.get(c)) for c in columns])
        if n % 1000 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def write_json(rows: Iterable[ListingRow], columns: Sequence[str]) -> Iterator[str]:
    """A JSON array of objects, a chunk of rows at a time (NULL and NaN are null)."""
    yield "["
    first = True
    parts: list[str] = []
    for row in rows:
        text = json.dumps({c: plain(row.get(c)) for c in columns}, allow_nan=False)
        parts.append(text if first else "," + text)
        first = False
        if len(parts) >= 1000:
            yield "".join(parts)
            parts.clear()
    parts.append("]")
    yield "".join(parts)
