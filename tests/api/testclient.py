"""Starlette's TestClient, imported without its warning about httpx (Starlette 1.x
prefers the httpx2 fork; httpx is what the project installs)."""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

__all__ = ["TestClient"]
