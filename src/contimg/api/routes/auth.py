"""Checking a token (for clients that want to know before they write)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from contimg.api.deps import WriteAccess

router = APIRouter(prefix="/auth", tags=["status"])


class TokenOk(BaseModel):
    ok: bool = True


@router.get(
    "/check", response_model=TokenOk, dependencies=[WriteAccess], summary="Check a write token"
)
def check_token() -> TokenOk:
    """200 when the bearer token allows writes, 401 otherwise."""
    return TokenOk()
