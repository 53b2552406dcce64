"""The FastAPI application factory. Nothing is built at import time."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError, ProgrammingError

from contimg import __version__
from contimg.api.auth import TokenStore
from contimg.api.deps import AppState
from contimg.api.events import EventHub
from contimg.api.spa import mount_spa
from contimg.config import DATABASE_NAMES, Settings, get_settings
from contimg.db.engine import Databases, set_sqlite_mmap
from contimg.db.queries.listing import ListingError
from contimg.errors import ConflictError, ContimgError, NotFoundError

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

TAGS = [
    {"name": "status", "description": "Pipeline status and health."},
    {"name": "queue", "description": "The ingest queue: groups, subband files, retries."},
    {"name": "calibration", "description": "Calibration sets and tables."},
    {"name": "products", "description": "Measurement Sets and images."},
    {"name": "sources", "description": "Sources, light curves, variability."},
    {"name": "candidates", "description": "ESE candidates."},
    {"name": "mosaics", "description": "Mosaics."},
    {"name": "performance", "description": "Per-stage times and throughput."},
    {"name": "files", "description": "Files from the product directories."},
    {"name": "events", "description": "Live server-sent events."},
]


def _field_error(loc: list[str], msg: str) -> JSONResponse:
    body = {"detail": [{"loc": loc, "msg": msg, "type": "value_error"}]}
    return JSONResponse(body, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFoundError)
    async def _not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(ConflictError)
    async def _conflict(_: Request, exc: ConflictError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)

    @app.exception_handler(ListingError)
    async def _listing(_: Request, exc: ListingError) -> JSONResponse:
        return _field_error(["query", exc.field], str(exc))

    @app.exception_handler(ContimgError)
    async def _contimg(_: Request, exc: ContimgError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_400_BAD_REQUEST)

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # A value the database cannot hold (out of range for its type, say).
        return _field_error(["query"], f"value refused by the database: {exc.orig}")

    @app.exception_handler(OperationalError)
    @app.exception_handler(ProgrammingError)
    async def _db_down(_: Request, exc: Exception) -> JSONResponse:
        log.error("database error: %s", exc)
        return JSONResponse(
            {
                "detail": "a database is unavailable or not initialised "
                "(run 'contimg db init' / 'contimg db upgrade'); see /api/v1/health"
            },
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    _ = RequestValidationError  # FastAPI's own handler gives field-level 422s


def _tune_sqlite(dbs: Databases, *, mmap_mb: int) -> None:
    """Memory-map the SQLite files on the server's connections: a light curve reads
    hundreds of scattered pages, and mapped reads halve its time (docs/api.md)."""
    if mmap_mb <= 0:
        return
    for name in DATABASE_NAMES:
        try:
            db = dbs[name]
        except ContimgError as exc:  # a broken file: /health says so
            log.error("%s", exc)
            continue
        set_sqlite_mmap(db, mmap_mb=mmap_mb)


def create_app(
    settings: Settings | None = None, *, events: bool = True, freeze_gc: bool = False
) -> FastAPI:
    """Build the dashboard API for ``settings`` (default: from the environment).

    ``events=False`` skips the live-events poller (for generating the OpenAPI
    schema, or in tests that do not need it). ``freeze_gc=True`` (a server
    process: ``contimg serve``) moves every object alive at start-up out of the
    garbage collector's reach.
    """
    from contimg.api.metrics import router as metrics_router
    from contimg.api.routes import ROUTERS

    settings = settings or get_settings()
    dbs = Databases(settings)
    hub = EventHub(dbs, poll_s=settings.api.events_poll_s)
    state = AppState(settings=settings, dbs=dbs, tokens=TokenStore(settings), events=hub)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        _tune_sqlite(dbs, mmap_mb=settings.api.sqlite_mmap_mb)
        if events:
            hub.start()
        if freeze_gc:
            # Everything imported so far (numpy, astropy, SQLAlchemy, pydantic...) lives
            # as long as the process: move it out of the collector's reach. Otherwise
            # every full (generation 2) collection walks it all and stalls a request by
            # ~100 ms (the light curve's p99; docs/api.md).
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await hub.stop()
            dbs.dispose()

    app = FastAPI(
        title="contimg dashboard API",
        version=__version__,
        summary="DSA-110 continuum imaging pipeline: queue, calibration, images, sources, "
        "ESE candidates, mosaics and live events.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.contimg = state
    _install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(metrics_router)  # /metrics, where Prometheus looks by default
    mount_spa(app)  # last: its fallback route must not shadow the API
    return app


def app_from_environment() -> FastAPI:
    """The app for settings from the environment (``contimg serve --workers N``)."""
    return create_app(get_settings(), freeze_gc=True)
