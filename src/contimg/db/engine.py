"""The one gateway to the databases.

:class:`Database` wraps a SQLAlchemy engine for one of the four databases and
hands out connections in two flavours:

* :meth:`Database.read` - a deferred transaction (SQLite) for consistent reads;
* :meth:`Database.write` - a short write transaction. On SQLite it starts with
  ``BEGIN IMMEDIATE`` so the write lock is taken up front and concurrent writers
  queue on the busy timeout instead of failing with "database is locked" when a
  read transaction tries to upgrade.

SQLite connections get ``journal_mode=WAL``, ``foreign_keys=ON``,
``synchronous=NORMAL`` (durable across process crashes in WAL mode) and a busy
timeout. On PostgreSQL each database is a schema of one database; its engine's
connections have ``search_path`` set to that schema (then ``public``, where
extensions such as q3c live), so the same SQL runs on both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from contimg.config import DATABASE_NAMES, Settings
from contimg.errors import ContimgError

SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Database:
    """One of the four databases, on SQLite or PostgreSQL."""

    name: str
    engine: Engine
    location: str
    """A human-readable location: the SQLite file path or ``postgresql://host/db#schema``."""
    schema: str | None = None
    """The PostgreSQL schema (None on SQLite)."""

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection inside a (deferred) transaction, rolled back at the end."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection inside a write transaction, committed at the end.

        Keep the body short: on SQLite it holds the database's write lock.
        """
        engine = self.engine.execution_options(contimg_begin="IMMEDIATE")
        with engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_engine(path: Path, *, busy_timeout_ms: int) -> Engine:
    engine = sa.create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": busy_timeout_ms / 1000.0, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite would defer it).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("contimg_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


def _postgres_engine(url: str, *, schema: str) -> Engine:
    return sa.create_engine(
        url,
        connect_args={"options": f"-csearch_path={schema},public"},
        pool_pre_ping=True,
    )


def check_sqlite_file(path: Path) -> None:
    """Raise :class:`ContimgError` if ``path`` exists but is not a SQLite database."""
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise ContimgError(f"cannot read database file {path}: {exc.strerror}") from exc
    if head != SQLITE_MAGIC:
        raise ContimgError(
            f"{path} is not a SQLite database (corrupt or a different file); "
            "move it aside or restore it from a backup, then run 'contimg db upgrade'"
        )


def check_postgres(cfg: Settings, *, command: str, timeout_s: int = 5) -> None:
    """Connect once to CONTIMG_DATABASE_URL; a clear error if the server cannot be reached."""
    assert cfg.database_url is not None
    url = sa.make_url(cfg.database_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    shown = url.set(password=None).render_as_string(hide_password=True)
    engine = sa.create_engine(url, connect_args={"connect_timeout": timeout_s})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise ContimgError(
            f"{command}: cannot reach the PostgreSQL database {shown} (CONTIMG_DATABASE_URL): "
            f"{first}"
        ) from None
    finally:
        engine.dispose()


def open_database(settings: Settings, name: str, *, create_dirs: bool = False) -> Database:
    """Open database ``name`` (one of ``ingest``, ``cal_registry``, ``products``,
    ``master_sources``) as configured by ``settings``.

    Nothing is created unless ``create_dirs`` is true (then the SQLite file's
    directory is made). Connecting is lazy: the first query opens the file.
    """
    if name not in DATABASE_NAMES:
        raise ContimgError(
            f"unknown database {name!r}; expected one of {', '.join(DATABASE_NAMES)}"
        )
    if settings.database_url:
        url = sa.make_url(settings.database_url)
        if url.get_backend_name() != "postgresql":
            raise ContimgError(
                f"CONTIMG_DATABASE_URL must be a PostgreSQL URL, got {url.render_as_string()!r}"
            )
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        engine = _postgres_engine(url.render_as_string(hide_password=False), schema=name)
        where = url.set(password=None).render_as_string(hide_password=True)
        return Database(name=name, engine=engine, location=f"{where}#{name}", schema=name)

    path = settings.sqlite_path(name)
    check_sqlite_file(path)
    if create_dirs:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ContimgError(
                f"cannot create the state directory {path.parent}: {exc.strerror}; "
                "set --state-dir / CONTIMG_STATE_DIR to a writable place"
            ) from exc
    engine = _sqlite_engine(path, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    return Database(name=name, engine=engine, location=str(path))


class Databases:
    """The four databases of one deployment, opened lazily."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._open: dict[str, Database] = {}

    def __getitem__(self, name: str) -> Database:
        """Database ``name``; a SQLite file that does not exist yet is an error (SQLite
        would silently create an empty one): create databases with ``contimg db init``."""
        if name not in self._open:
            if self.settings.backend == "sqlite":
                path = self.settings.sqlite_path(name)
                if not path.exists():
                    raise ContimgError(
                        f"database {path} does not exist; create it with "
                        f"'contimg --state-dir {self.settings.state_path} db init'"
                    )
            self._open[name] = open_database(self.settings, name)
        return self._open[name]

    @property
    def ingest(self) -> Database:
        return self["ingest"]

    @property
    def cal_registry(self) -> Database:
        return self["cal_registry"]

    @property
    def products(self) -> Database:
        return self["products"]

    @property
    def master_sources(self) -> Database:
        return self["master_sources"]

    def dispose(self) -> None:
        for db in self._open.values():
            db.dispose()
        self._open.clear()


def set_sqlite_mmap(db: Database, *, mmap_mb: int) -> None:
    """Memory-map an SQLite file on every new connection of ``db`` (``PRAGMA mmap_size``);
    nothing for PostgreSQL or ``mmap_mb <= 0``."""
    if mmap_mb <= 0 or not db.is_sqlite:
        return
    size = int(mmap_mb) * 1024 * 1024

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA mmap_size={size}")
        cur.close()

    event.listen(db.engine, "connect", on_connect)
