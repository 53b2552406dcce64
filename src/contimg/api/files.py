"""Safe file serving: only files inside the configured product directories.

A requested path is refused (as *not found*, so nothing about the file system
leaks) when it is absolute where a relative one is expected, contains ``..``,
names something that is not a regular file, or resolves (symlinks followed)
outside every allowed root.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from contimg.config import Settings
from contimg.errors import NotFoundError


def allowed_roots(settings: Settings) -> list[Path]:
    """The directories files may be served from, resolved."""
    roots = [settings.products_path, *settings.api.extra_file_roots]
    return [r.resolve() for r in roots]


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def _refuse(what: str) -> NotFoundError:
    return NotFoundError(f"file not found: {what}")


def resolve_relative(settings: Settings, rel: str) -> Path:
    """The file ``rel`` (relative to the products directory), or :class:`NotFoundError`."""
    if not rel or "\x00" in rel or rel.startswith(("/", "\\")) or "\\" in rel:
        raise _refuse(rel)
    parts = PurePosixPath(rel).parts
    if any(p in ("..", "") for p in parts) or Path(rel).is_absolute():
        raise _refuse(rel)
    return check_file(settings, settings.products_path / rel, shown=rel)


def check_file(settings: Settings, path: Path | str, *, shown: str | None = None) -> Path:
    """``path`` (absolute, as stored in a database, or relative to the products
    directory) resolved, if it is a regular file inside an allowed root; else
    :class:`NotFoundError`."""
    shown = shown if shown is not None else str(path)
    if "\x00" in str(path):
        raise _refuse(shown)
    p = Path(path)
    if not p.is_absolute():
        if ".." in p.parts:
            raise _refuse(shown)
        p = settings.products_path / p
    try:
        real = p.resolve(strict=True)
    except (OSError, RuntimeError):
        raise _refuse(shown) from None
    if not _inside(real, allowed_roots(settings)) or not real.is_file():
        raise _refuse(shown)
    return real


def check_dir(settings: Settings, path: Path | str) -> Path:
    """Like :func:`check_file` for a directory (a CASA image or Measurement Set)."""
    p = Path(path)
    if not p.is_absolute():
        p = settings.products_path / p
    try:
        real = p.resolve(strict=True)
    except (OSError, RuntimeError):
        raise _refuse(str(path)) from None
    if not _inside(real, allowed_roots(settings)) or not real.is_dir():
        raise _refuse(str(path))
    return real
