"""The API's routers, one module per resource, included under ``/api/v1``."""

from fastapi import APIRouter

from contimg.api.routes import (
    auth,
    calibration,
    candidates,
    events,
    files,
    groups,
    mosaics,
    performance,
    products,
    sources,
    status,
)

ROUTERS: list[APIRouter] = [
    status.router,
    auth.router,
    groups.router,
    groups.files_router,
    calibration.router,
    products.router,
    sources.router,
    candidates.router,
    mosaics.router,
    performance.router,
    files.router,
    events.router,
]

__all__ = ["ROUTERS"]
