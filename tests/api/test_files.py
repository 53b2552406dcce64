"""Files are served only from the product directories: '..', absolute paths and
symlinks pointing out answer 404."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contimg.api import create_app
from contimg.config import Settings, get_settings
from contimg.db import products
from contimg.db.engine import Databases
from tests.api.testclient import TestClient

V1 = "/api/v1"


@pytest.fixture
def sqlite_client(tmp_path: Path) -> tuple[TestClient, Settings, Path]:
    s = get_settings(home=tmp_path / "home")
    prod = s.products_path
    (prod / "images").mkdir(parents=True)
    (prod / "images" / "a.fits").write_bytes(b"SIMPLE  =                    T")
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    os.symlink(secret, prod / "images" / "leak.fits")
    os.symlink(tmp_path, prod / "up")
    (prod / "inner").symlink_to(prod / "images")  # a link that stays inside is fine
    return TestClient(create_app(s, events=False)), s, secret


def test_file_inside_is_served(sqlite_client: tuple[TestClient, Settings, Path]) -> None:
    client, _, _ = sqlite_client
    r = client.get(f"{V1}/files/images/a.fits")
    assert r.status_code == 200 and r.content.startswith(b"SIMPLE")
    assert client.get(f"{V1}/files/inner/a.fits").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "images/../../secret.txt",
        "images/%2e%2e/%2e%2e/secret.txt",
        "%2e%2e/secret.txt",
        "images/leak.fits",
        "up/secret.txt",
        "images",
        "nope.fits",
        "images/a.fits%00.png",
        "..%5csecret.txt",
    ],
)
def test_traversal_is_404(sqlite_client: tuple[TestClient, Settings, Path], path: str) -> None:
    client, _, _ = sqlite_client
    r = client.get(f"{V1}/files/{path}")
    assert r.status_code == 404, (path, r.status_code)
    assert "private" not in r.text


def test_absolute_paths_are_404(sqlite_client: tuple[TestClient, Settings, Path]) -> None:
    client, s, secret = sqlite_client
    for path in (str(secret), str(s.products_path / "images" / "a.fits")):
        # '//abs' after the prefix: an absolute path in the request.
        r = client.get(f"{V1}/files/{path}")
        assert r.status_code == 404, path


def test_database_paths_outside_products_are_404(
    dbs: Databases, settings: Settings, tmp_path: Path
) -> None:
    """An image row whose path lies outside the product directories (or is a
    symlink leading out) is never served."""
    from tests.factories.api import write_fits

    outside = tmp_path / "elsewhere" / "x.fits"
    write_fits(outside)
    link = settings.products_path / "images" / "link.fits"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)
    with dbs.products.write() as conn:
        conn.execute(products.ms_index.insert().values(path="/ms/x.ms"))
        for p in (outside, link):
            conn.execute(
                products.images.insert().values(
                    path=str(p), ms_path="/ms/x.ms", created_at=1.0, type="image"
                )
            )
    with TestClient(create_app(settings, events=False)) as client:
        for iid in (1, 2):
            assert client.get(f"{V1}/images/{iid}/fits").status_code == 404
            assert client.get(f"{V1}/images/{iid}/preview.png").status_code == 404
            assert client.get(f"{V1}/images/{iid}").json()["file_available"] is False
