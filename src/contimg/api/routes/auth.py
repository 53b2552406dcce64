"""Checking a token (for clients that want to know before they write)."""

from __future__ import annotations

from fastapi import APIRouter

from contimg.api.deps import WriteAccess
from contimg.api.schemas import TokenOk

router = APIRouter(prefix="/auth", tags=["status"])


@router.get(
    "/check", response_model=TokenOk, dependencies=[WriteAccess], summary="Check a write token"
)
def check_token() -> TokenOk:
    """200 when the bearer token allows writes, 401 otherwise."""
    return TokenOk()
