"""Dependencies of the routes, each a one-line ``Annotated`` alias.

Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def``
dependency in its thread pool, and a thread hop per dependency costs more CPU than
most of them do (docs/api.md, "Measured")."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar, cast

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Connection

from contimg.api.auth import TokenStore
from contimg.api.events import EventHub
from contimg.config import Settings
from contimg.db.engine import Database, Databases
from contimg.db.queries import listing
from contimg.db.queries.api_views import export_columns, export_row
from contimg.errors import NotFoundError
from contimg.models import Page

T = TypeVar("T")


class TtlCache:
    """A small thread-safe cache of computed answers with a maximum age. Concurrent
    requests for the same key wait for one computation instead of repeating it."""

    def __init__(self) -> None:
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def fresh(self, key: Hashable, max_age_s: float) -> Any | None:
        """The cached value of ``key`` if younger than ``max_age_s``, else None (never
        computes or waits, so the event loop may call it)."""
        hit = self._values.get(key)
        if hit is not None and time.monotonic() - hit[0] < max_age_s:
            return hit[1]
        return None

    def get(self, key: Hashable, max_age_s: float, compute: Callable[..., T], *args: Any) -> T:
        hit = self._values.get(key)
        if hit is not None and time.monotonic() - hit[0] < max_age_s:
            return cast(T, hit[1])
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._values.get(key)
            if hit is not None and time.monotonic() - hit[0] < max_age_s:
                return cast(T, hit[1])
            value = compute(*args)
            if len(self._values) > 1000:
                self._values.clear()
            self._values[key] = (time.monotonic(), value)
            return value


@dataclass
class AppState:
    """What the app holds for its lifetime (built by ``create_app``)."""

    settings: Settings
    dbs: Databases
    tokens: TokenStore
    events: EventHub
    cache: TtlCache = field(default_factory=TtlCache)


async def _state(request: Request) -> AppState:
    state: AppState = request.app.state.contimg
    return state


State = Annotated[AppState, Depends(_state)]


async def _settings(state: State) -> Settings:
    return state.settings


async def _ingest(state: State) -> Database:
    return state.dbs.ingest


async def _cal(state: State) -> Database:
    return state.dbs.cal_registry


async def _products(state: State) -> Database:
    return state.dbs.products


async def _catalog(state: State) -> Database:
    return state.dbs.master_sources


SettingsDep = Annotated[Settings, Depends(_settings)]
IngestDb = Annotated[Database, Depends(_ingest)]
CalDb = Annotated[Database, Depends(_cal)]
ProductsDb = Annotated[Database, Depends(_products)]
CatalogDb = Annotated[Database, Depends(_catalog)]

# ----------------------------------------------------------------------- auth

_bearer = HTTPBearer(auto_error=False, description="The API's write token.")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def _check(state: AppState, creds: HTTPAuthorizationCredentials | None) -> None:
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise _unauthorized("this request needs 'Authorization: Bearer <token>'")
    if not state.tokens.check(creds.credentials):
        raise _unauthorized("wrong API token")


async def require_write(
    state: State, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Writes always need the bearer token."""
    _check(state, creds)


async def require_read(
    state: State, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Reads need the token only when ``api.require_token_for_reads`` is set."""
    if state.settings.api.require_token_for_reads:
        _check(state, creds)


WriteAccess = Depends(require_write)
ReadAccess = Depends(require_read)

# --------------------------------------------------------------------- paging

MAX_LIMIT = 1000


@dataclass(frozen=True)
class Paging:
    limit: int
    offset: int


async def _paging(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9, description="Rows to skip.")] = 0,
) -> Paging:
    return Paging(limit, offset)


PagingDep = Annotated[Paging, Depends(_paging)]

ExportFormat = Literal["csv", "json"]
FormatParam = Annotated[ExportFormat, Query(description="'csv' or 'json'.")]

# Plain query strings: bounded, and without NUL (which PostgreSQL refuses).
TEXT_PATTERN = r"^[^\x00]*$"


def sort_param(lst: listing.Listing) -> Any:
    """A ``sort`` query parameter documenting the listing's sortable columns."""
    allowed = ", ".join(sorted(lst.columns))
    default = ("-" if lst.default_descending else "") + lst.default_sort
    return Query(
        description=f"Column to sort by, '-' in front for descending. One of: {allowed}. "
        f"Default {default}.",
        max_length=64,
        pattern=r"^[-+]?[a-z_0-9]+$",
    )


def page_of(
    db: Database,
    lst: listing.Listing,
    query: listing.Query,
    paging: Paging,
    convert: Callable[[listing.ListingRow], T],
) -> Page[T]:
    """Run a listing and wrap one page in the envelope."""
    with db.read() as conn:
        rows, total = listing.list_page(conn, lst, query, limit=paging.limit, offset=paging.offset)
    return Page[T](
        data=[convert(r) for r in rows], count=total, limit=paging.limit, offset=paging.offset
    )


def found_or_404(row: T | None, missing: str) -> T:
    """``row`` (the answer of a one-or-None query); a 404 saying ``missing`` when None."""
    if row is None:
        raise NotFoundError(missing)
    return row


def load_or_404(
    db: Database | Connection,
    lst: listing.Listing,
    *,
    column: str,
    value: object,
    convert: Callable[[listing.ListingRow], T],
    missing: str,
) -> T:
    """The row of listing ``lst`` whose ``column`` is ``value``, converted; a 404
    saying ``missing`` when there is none. ``db`` may be a connection, so that a
    route reads the row in the same transaction as the rest of its answer."""
    if isinstance(db, Connection):
        row = listing.first_row(db, lst, column=column, value=value)
    else:
        with db.read() as conn:
            row = listing.first_row(conn, lst, column=column, value=value)
    return convert(found_or_404(row, missing))


def export_response(
    db: Database,
    lst: listing.Listing,
    query: listing.Query,
    fmt: ExportFormat,
    *,
    convert: Callable[[listing.ListingRow], listing.ListingRow] | None = None,
) -> StreamingResponse:
    """The whole (filtered, sorted) result as a CSV or JSON download, streamed, in the
    units of :data:`contimg.db.queries.api_views.EXPORT_UNITS`."""
    listing.check(lst, query)  # a bad filter or sort is a 422 before the response starts
    columns = export_columns(lst)

    def rows() -> Iterator[str]:
        with db.read() as conn:
            it = listing.iter_rows(conn, lst, query)
            if convert is not None:
                it = (convert(r) for r in it)
            it = (export_row(lst, r) for r in it)
            writer = listing.write_csv if fmt == "csv" else listing.write_json
            yield from writer(it, columns)

    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    return StreamingResponse(
        rows(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{lst.name}.{fmt}"'},
    )
