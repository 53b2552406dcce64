"""Serving the dashboard (the built React app) from the API's own origin.

``mount_spa(app, static_dir)`` serves the files Vite built (``make frontend`` writes
them to ``src/contimg/api/static/``) and answers every other GET that is not under
``/api`` with ``index.html``, so that deep links such as ``/sources/NVSS%20J1234...``
work on reload: the browser's router then shows the page.

Only the app's own pages (:data:`PAGES`, the routes of ``frontend/src/App.tsx``)
answer 200; any other path gets the same ``index.html`` with status 404, so the
browser shows the app's "page not found" while links checkers, crawlers and
scripts see the error.

Call it LAST in ``create_app``, after every API route is included: the fallback
route matches any path and must not shadow the API. Unknown ``/api/...`` paths keep
their JSON 404.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""Where ``make frontend`` puts the build (gitignored)."""

PAGES = re.compile(
    r"(?:queue|calibration|images|sources|candidates|mosaics)?/?"
    r"|(?:queue|images|sources|mosaics)/[^/]+/?"
)
"""Paths (without the leading ``/``) of the dashboard's pages: keep in step with the
``<Route>`` list of ``frontend/src/App.tsx``."""

_NOT_BUILT = """<!doctype html><html><head><title>contimg</title></head><body
style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>contimg dashboard not built</h1>
<p>The API runs (see <a href="/api/docs">/api/docs</a>), but the web app has not been
built into <code>{path}</code>. Run <code>make frontend</code> and reload.</p>
</body></html>"""


def mount_spa(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    """Add the dashboard's routes to ``app``: static files and the SPA fallback."""
    root = static_dir.resolve()

    def _index(status_code: int = 200) -> Response:
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(_NOT_BUILT.format(path=root), status_code=503)
        # index.html must never be cached: it names the current hashed bundles.
        return FileResponse(index, status_code=status_code, headers={"Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    def spa_root() -> Response:
        return _index()

    @app.get("/{full_path:path}", include_in_schema=False)
    def spa_fallback(full_path: str) -> Response:
        if full_path == "api" or full_path.startswith("api/"):
            raise HTTPException(status_code=404, detail=f"no such API path: /{full_path}")
        candidate = (root / full_path).resolve()
        if candidate.is_file() and candidate.is_relative_to(root):
            # Vite's hashed assets never change under one name: cache them for a year.
            cache = (
                "public, max-age=31536000, immutable"
                if full_path.startswith("assets/")
                else "no-cache"
            )
            return FileResponse(candidate, headers={"Cache-Control": cache})
        return _index(200 if PAGES.fullmatch(full_path) else 404)
