"""Fixtures shared by the whole suite.

Backends: tests that take the ``backend`` fixture run twice, on SQLite files in a
temporary state directory and on the real PostgreSQL server named by
``CONTIMG_TEST_PG_URL`` (``make test`` starts one). Without that variable the
PostgreSQL half is skipped, unless ``CONTIMG_REQUIRE_PG=1`` (set by ``make test``),
which turns the skip into a failure so CI can never silently lose it.

Each test session gets its own PostgreSQL database, and each test starts with
the four schemas dropped, so parallel runs and tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from astropy.utils import iers

from contimg.config import DATABASE_NAMES, Settings, get_settings
from contimg.db import migrations
from contimg.db.engine import Databases, open_database

iers.conf.auto_download = False

REPO_ROOT = Path(__file__).resolve().parents[1]


def _admin_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test session."""
    base = os.environ.get("CONTIMG_TEST_PG_URL")
    if not base:
        if os.environ.get("CONTIMG_REQUIRE_PG") == "1":
            pytest.fail("CONTIMG_REQUIRE_PG=1 but CONTIMG_TEST_PG_URL is not set")
        pytest.skip("no PostgreSQL server (set CONTIMG_TEST_PG_URL; 'make test' does)")
    name = f"contimg_t_{uuid.uuid4().hex[:10]}"
    admin = _admin_engine(base)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    with _admin_engine(url).connect() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS q3c"))
    yield url
    sa.create_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def demo_run(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The one shortened real ``contimg demo`` run of the session (tests/demo_run.py),
    in a PostgreSQL database of its own (so other tests' schema drops cannot touch it).
    Yields a :class:`tests.demo_run.DemoRun` whose resumed demo is still running; it
    is stopped at the end of the session if no test stopped it."""
    from tests.demo_run import run_demo

    name = f"contimg_demo_{uuid.uuid4().hex[:10]}"
    admin = _admin_engine(pg_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    with _admin_engine(url).connect() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS q3c"))
    run = None
    try:
        run = run_demo(tmp_path_factory.mktemp("demo_run"), url)
        yield run
    finally:
        if run is not None:
            run.demo.cleanup()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def drop_pg_schemas(url: str) -> None:
    with _admin_engine(url).connect() as conn:
        for name in DATABASE_NAMES:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Parametrises a test over both database backends."""
    return str(request.param)


def deployment_settings(**overrides: Any) -> Settings:
    """Settings for a test deployment. The disk guard is off (``worker.min_free_gb = 0``):
    a worker paused by a nearly full disk would make an unrelated test wait out its
    timeout; tests/ingest/test_diskguard.py sets its own thresholds."""
    s = get_settings(**overrides)
    s.worker.min_free_gb = 0.0
    return s


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings of a fresh deployment under ``tmp_path`` on ``backend``; nothing created."""
    url = None
    if backend == "postgresql":
        url = request.getfixturevalue("pg_url")
        drop_pg_schemas(url)
    return deployment_settings(home=tmp_path / "home", database_url=url)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings of a fresh SQLite deployment (for tests that are SQLite-specific)."""
    return deployment_settings(home=tmp_path / "home")


def init_databases(settings: Settings) -> Databases:
    """Create every database at head, as ``contimg db init`` does."""
    for name in DATABASE_NAMES:
        db = open_database(settings, name, create_dirs=True)
        migrations.upgrade(db)
        db.dispose()
    return Databases(settings)


@pytest.fixture
def dbs(settings: Settings) -> Iterator[Databases]:
    """The four databases at head on ``backend``."""
    databases = init_databases(settings)
    yield databases
    databases.dispose()
