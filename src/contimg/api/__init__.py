"""The dashboard API: ``create_app(settings)`` builds the FastAPI application."""

from contimg.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
