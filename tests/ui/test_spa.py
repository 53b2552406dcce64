"""The dashboard's SPA fallback (contimg.api.spa): built files, deep links, API 404s."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contimg.api.spa import mount_spa
from tests.api.testclient import TestClient


def _app(static: Path) -> TestClient:
    app = FastAPI()

    @app.get("/api/v1/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    mount_spa(app, static)
    return TestClient(app)


def _build(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_text("<!doctype html><div id=root></div>")
    (static / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("outside")
    return static


APP_TSX = Path(__file__).resolve().parents[2] / "frontend" / "src" / "App.tsx"


def test_deep_links_get_index_html(tmp_path: Path) -> None:
    client = _app(_build(tmp_path))
    pages = ("/", "/sources/NVSS%20J115806.4%2B395636", "/queue?state=failed", "/queue/",
             "/queue/2025-10-02T00:00:00", "/calibration", "/images/12", "/candidates",
             "/mosaics", "/mosaics/3", "/sources")  # fmt: skip
    for path in pages:
        r = client.get(path)
        assert r.status_code == 200, path
        assert "id=root" in r.text
        assert r.headers["cache-control"] == "no-cache"


def test_unknown_pages_get_the_app_with_404(tmp_path: Path) -> None:
    client = _app(_build(tmp_path))
    for path in ("/a/b/c", "/overview", "/sources/x/y", "/candidate", "/images/1/2", "/x.png"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "id=root" in r.text  # the app's own "page not found"
        assert r.headers["content-type"].startswith("text/html")


def test_pages_follow_the_app_routes() -> None:
    """PAGES matches every <Route path> of App.tsx (with a sample parameter)."""
    import re

    from contimg.api.spa import PAGES

    paths = re.findall(r'<Route path="([^"*]+)"', APP_TSX.read_text())
    assert len(paths) >= 10
    for path in paths:
        sample = re.sub(r":\w+", "X", path)
        assert PAGES.fullmatch(sample), path


def test_assets_are_served_and_cached(tmp_path: Path) -> None:
    client = _app(_build(tmp_path))
    r = client.get("/assets/index-abc123.js")
    assert r.status_code == 200
    assert r.text == "console.log(1)"
    assert "immutable" in r.headers["cache-control"]


def test_api_paths_keep_their_404_and_routes_win(tmp_path: Path) -> None:
    client = _app(_build(tmp_path))
    assert client.get("/api/v1/ping").json() == {"pong": "yes"}
    r = client.get("/api/v1/no-such-route")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    assert client.get("/api").status_code == 404


def test_no_file_outside_the_build(tmp_path: Path) -> None:
    client = _app(_build(tmp_path))
    r = client.get("/..%2Fsecret.txt")
    assert "outside" not in r.text
    r = client.get("/assets/..%2F..%2Fsecret.txt")
    assert "outside" not in r.text


def test_unbuilt_app_says_how_to_build(tmp_path: Path) -> None:
    client = _app(tmp_path / "missing")
    r = client.get("/queue")
    assert r.status_code == 503
    assert "make frontend" in r.text
