"""Bearer-token authentication for the API.

Writes always need the token; reads need it only when
``settings.api.require_token_for_reads`` is set. The token comes from
``settings.api.write_token`` (``CONTIMG_API__WRITE_TOKEN``); when that is unset, one
is generated on first use, stored in ``<state dir>/api_token`` with file mode 0600
and reused on every later start (``contimg serve`` prints it when it creates it).
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
from pathlib import Path

from contimg.config import Settings
from contimg.errors import ContimgError

TOKEN_FILE = "api_token"


def token_path(settings: Settings) -> Path:
    """Where a generated token is kept."""
    return settings.state_path / TOKEN_FILE


def load_or_create_token(settings: Settings) -> tuple[str, bool]:
    """The write token and whether it was just created.

    Raises :class:`ContimgError` when the state directory cannot hold the token file.
    """
    if settings.api.write_token:
        return settings.api.write_token, False
    path = token_path(settings)
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise ContimgError(f"cannot read the API token file {path}: {exc.strerror}") from exc
    if text:
        return text, False
    token = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two servers starting together cannot both write a token.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip(), False
    except OSError as exc:
        raise ContimgError(
            f"cannot create the API token file {path}: {exc.strerror}; "
            "set CONTIMG_API__WRITE_TOKEN or make the state directory writable"
        ) from exc
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    os.chmod(path, 0o600)
    return token, True


class TokenStore:
    """The token, loaded (or created) on first need and then kept."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._token: str | None = None
        self._lock = threading.Lock()

    def get(self) -> str:
        with self._lock:
            if self._token is None:
                self._token, _ = load_or_create_token(self._settings)
            return self._token

    def check(self, presented: str) -> bool:
        """True when ``presented`` is the token (constant-time comparison)."""
        return hmac.compare_digest(presented.encode(), self.get().encode())
