"""Fixtures of the API tests: a populated deployment on both backends and a client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contimg.api import create_app
from contimg.config import Settings
from contimg.db.engine import Databases
from tests.api.testclient import TestClient
from tests.factories.api import Deployment, populate

TOKEN = "test-token-0123456789"


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    """The test deployment's settings with a known write token."""
    return settings.model_copy(
        update={"api": settings.api.model_copy(update={"write_token": TOKEN})}
    )


@pytest.fixture
def deployment(dbs: Databases, api_settings: Settings) -> Deployment:
    return populate(dbs, api_settings)


@pytest.fixture
def client(deployment: Deployment) -> Iterator[TestClient]:
    app = create_app(deployment.settings, events=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}
