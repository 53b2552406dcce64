"""Fixtures of the ingest tests: fast settings and a queue factory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contimg.config import Settings
from contimg.db.engine import Database, Databases
from tests.conftest import init_databases


@pytest.fixture
def fast(settings: Settings) -> Settings:
    """Settings on ``backend`` with short waits (settle, poll, backoff)."""
    return settings.model_copy(
        update={
            "ingest": settings.ingest.model_copy(update={"settle_s": 0.05}),
            "worker": settings.worker.model_copy(
                update={"poll_interval_s": 0.05, "backoff_base_s": 10.0, "builtin_stages": False}
            ),
        }
    )


@pytest.fixture
def fdbs(fast: Settings) -> Iterator[Databases]:
    databases = init_databases(fast)
    yield databases
    databases.dispose()


@pytest.fixture
def idb(fdbs: Databases) -> Database:
    return fdbs.ingest
