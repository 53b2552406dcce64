"""Any file of the product directories, by its path relative to the products directory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse

from contimg.api import files
from contimg.api.deps import ReadAccess, SettingsDep

router = APIRouter(prefix="/files", tags=["files"], dependencies=[ReadAccess])

MEDIA = {".fits": "application/fits", ".png": "image/png", ".json": "application/json"}


@router.get(
    "/{rel_path:path}",
    summary="Download a product file",
    response_class=FileResponse,
    responses={404: {"description": "Not found, or outside the product directories."}},
)
def get_file(
    settings: SettingsDep, rel_path: Annotated[str, Path(max_length=2000)]
) -> FileResponse:
    """A regular file under the products directory. Absolute paths, ``..`` and
    symlinks leading outside the product directories answer 404."""
    path = files.resolve_relative(settings, rel_path)
    return FileResponse(path, media_type=MEDIA.get(path.suffix.lower()), filename=path.name)
