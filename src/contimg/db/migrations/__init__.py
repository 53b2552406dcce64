"""Versioned schema migrations for the four databases (Alembic, one history each).

Each database has its own script directory beside this file
(``ingest/``, ``cal_registry/``, ``products/``, ``master_sources/``). Revision ids
carry the database name (``products_0002``), so an id alone says which database it
belongs to. The ``0001`` baseline of every history is the specification's schema.

Every operation runs in ONE transaction that first takes the database's write
lock (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so two
processes upgrading at once serialise and the second finds nothing to do.

A database created outside contimg from the specification's DDL (no version
table, rows inside) is *adopted*: its schema is compared with every known
revision; on a match it is stamped at that revision and kept intact. Otherwise
it is refused with the list of differences and left untouched.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DatabaseError, OperationalError

from contimg.db.engine import Database, _postgres_engine
from contimg.db.migrations.fingerprint import VERSION_TABLE, Fingerprint, diff, fingerprint
from contimg.errors import ContimgError, SchemaMismatchError

MIGRATIONS_DIR = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


@dataclass
class DatabaseStatus:
    """Where a database stands against its migration history."""

    name: str
    location: str
    exists: bool
    current: str | None
    head: str
    pending: list[str] = field(default_factory=list)
    unversioned: bool = False
    """True when the database has tables but no version table (adoption pending)."""


@dataclass
class MigrationResult:
    name: str
    before: str | None
    after: str | None
    adopted_at: str | None = None
    """The revision an unversioned database was recognised as and stamped at."""
    notes: list[str] = field(default_factory=list)
    """What a data migration reports (e.g. relative paths it could not resolve)."""


def _alembic_config(name: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR / name))
    return cfg


@cache
def script_directory(name: str) -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic_config(name))


def history(name: str) -> list[str]:
    """Revision ids of database ``name`` from the baseline to the head."""
    revs = list(script_directory(name).walk_revisions("base", "heads"))
    return [r.revision for r in reversed(revs)]


def head(name: str) -> str:
    heads = script_directory(name).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migration history of {name} has {len(heads)} heads: {heads}")
    return heads[0]


def baseline(name: str) -> str:
    return history(name)[0]


def _check_target(name: str, rev: str, *, allow_base: bool) -> str:
    if rev == "head":
        return head(name)
    if rev == "base" and allow_base:
        return rev
    known = history(name)
    if rev not in known:
        raise ContimgError(
            f"unknown revision {rev!r} for database {name}; known: "
            + ", ".join((["base"] if allow_base else []) + known + ["head"])
        )
    return rev


def _user_tables(conn: Connection, schema: str | None) -> list[str]:
    names = sa.inspect(conn).get_table_names(schema=schema)
    return [n for n in names if n != VERSION_TABLE and not n.startswith("sqlite_")]


def _has_version_table(conn: Connection, schema: str | None) -> bool:
    return VERSION_TABLE in sa.inspect(conn).get_table_names(schema=schema)


def _current(conn: Connection, schema: str | None) -> str | None:
    ctx = MigrationContext.configure(conn, opts={"version_table_schema": schema})
    return ctx.get_current_revision()


def _run(
    db: Database,
    conn: Connection,
    fn: str,
    *args: str,
    path_bases: Sequence[Path] = (),
    notes: list[str] | None = None,
) -> None:
    cfg = _alembic_config(db.name)
    cfg.attributes["connection"] = conn
    cfg.attributes["schema"] = db.schema
    cfg.attributes["path_bases"] = list(path_bases)
    cfg.attributes["notes"] = notes if notes is not None else []
    getattr(command, fn)(cfg, *args)


def _translate_db_error(db: Database, exc: Exception) -> ContimgError:
    text = str(getattr(exc, "orig", exc))
    if "not a database" in text or "malformed" in text:
        return ContimgError(
            f"{db.location} is corrupt ({text}); restore it from a backup or move it aside"
        )
    if "unable to open" in text or "readonly" in text or "read-only" in text:
        return ContimgError(
            f"cannot write {db.location} ({text}); check the state directory's permissions"
        )
    return ContimgError(f"database error on {db.location}: {text}")


@contextmanager
def _locked(db: Database) -> Iterator[Connection]:
    """One connection holding the database's write lock for a whole migration."""
    try:
        engine = db.engine.execution_options(contimg_begin="IMMEDIATE")
        with engine.connect() as conn, conn.begin():
            if not db.is_sqlite:
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                    {"k": f"contimg-migrate:{db.schema}"},
                )
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{db.schema}"'))
            yield conn
    except (OperationalError, DatabaseError) as exc:
        raise _translate_db_error(db, exc) from exc


def _exists(db: Database) -> bool:
    if db.is_sqlite:
        return Path(db.location).exists()
    with db.engine.connect() as conn:
        return db.schema in sa.inspect(conn).get_schema_names()


def status(db: Database) -> DatabaseStatus:
    """Read-only: where ``db`` stands. A missing SQLite file is not created."""
    hd = head(db.name)
    if not _exists(db):
        return DatabaseStatus(db.name, db.location, False, None, hd, pending=history(db.name))
    try:
        with db.read() as conn:
            current = _current(conn, db.schema)
            unversioned = current is None and bool(_user_tables(conn, db.schema))
    except (OperationalError, DatabaseError) as exc:
        raise _translate_db_error(db, exc) from exc
    revs = history(db.name)
    if current is not None and current not in revs:
        raise ContimgError(
            f"{db.location} is at revision {current!r}, unknown to this contimg "
            f"(head {hd}); install the contimg version that made it"
        )
    done = revs.index(current) + 1 if current else 0
    return DatabaseStatus(
        db.name, db.location, True, current, hd, pending=revs[done:], unversioned=unversioned
    )


@cache
def _revision_fingerprint(dialect: str, name: str, rev: str, pg_url: str | None) -> Fingerprint:
    """The schema that revision ``rev`` of ``name`` produces, built in a scratch database."""
    if dialect == "sqlite":
        engine = sa.create_engine("sqlite://")
        with engine.begin() as conn:
            cfg = _alembic_config(name)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, rev)
            return fingerprint(conn)
    assert pg_url is not None
    scratch = f"contimg_scratch_{uuid.uuid4().hex[:12]}"
    engine = _postgres_engine(pg_url, schema=scratch)
    try:
        with engine.connect() as conn:
            trans = conn.begin()
            try:
                conn.execute(sa.text(f'CREATE SCHEMA "{scratch}"'))
                cfg = _alembic_config(name)
                cfg.attributes["connection"] = conn
                cfg.attributes["schema"] = scratch
                command.upgrade(cfg, rev)
                return fingerprint(conn, schema=scratch)
            finally:
                trans.rollback()  # nothing of the scratch schema is kept
    finally:
        engine.dispose()


def _pg_url(db: Database) -> str | None:
    return None if db.is_sqlite else db.engine.url.render_as_string(hide_password=False)


def identify(db: Database, conn: Connection) -> str:
    """The known revision whose schema the unversioned database behind ``conn`` has.

    Raises :class:`SchemaMismatchError` listing the differences against the
    closest known revision when there is none.
    """
    live = fingerprint(conn, schema=db.schema)
    best: tuple[int, str, list[str]] | None = None
    for rev in history(db.name):
        expected = _revision_fingerprint(db.dialect, db.name, rev, _pg_url(db))
        differences = diff(expected, live)
        if not differences:
            return rev
        if best is None or len(differences) < best[0]:
            best = (len(differences), rev, differences)
    assert best is not None
    _, rev, differences = best
    raise SchemaMismatchError(
        f"{db.location} has tables but no contimg version record, and its schema matches "
        f"no known revision (closest: {rev}); it was left untouched. Differences:\n  - "
        + "\n  - ".join(differences)
    )


def _refuse_bad_rows(db: Database, conn: Connection) -> None:
    """Raise, before anything is written, when rows break the constraints."""
    from contimg.db.migrations.validate import row_problems

    problems = row_problems(conn, database=db.name, schema=db.schema)
    if problems:
        shown = problems[:20]
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise ContimgError(
            f"cannot adopt the {db.name} database {db.location}: {len(problems)} finding(s) of "
            "rows that break the specification's constraints; nothing was changed. Correct or "
            "delete these rows, then run 'contimg db upgrade' again:\n  - "
            + "\n  - ".join(shown)
            + more
        )


def upgrade(db: Database, *, to: str = "head", home: Path | None = None) -> MigrationResult:
    """Bring ``db`` to revision ``to``, adopting an unversioned spec database first.

    ``home``: the deployment's home directory; data migrations look for the files of
    stored relative paths under its parent and itself first (see
    :mod:`contimg.db.migrations.abspaths`)."""
    target = _check_target(db.name, to, allow_base=False)
    with _locked(db) as conn:
        adopted: str | None = None
        before = _current(conn, db.schema)
        if before is None and _user_tables(conn, db.schema):
            adopted = identify(db, conn)
            _refuse_bad_rows(db, conn)
            _run(db, conn, "stamp", adopted)
            before = adopted
        revs = history(db.name)
        if before is not None and before not in revs:
            raise ContimgError(
                f"{db.location} is at revision {before!r}, unknown to this contimg; "
                "install the contimg version that made it"
            )
        if before is not None and revs.index(before) > revs.index(target):
            raise ContimgError(
                f"{db.location} is at {before}, newer than {target}; "
                f"use 'contimg db downgrade --to {target}' to go back"
            )
        notes: list[str] = []
        bases = [home.parent, home] if home is not None else []
        _run(db, conn, "upgrade", target, path_bases=bases, notes=notes)
        for note in notes:
            log.warning("%s: %s", db.location, note)
        return MigrationResult(db.name, before, _current(conn, db.schema), adopted, notes)


def downgrade(db: Database, *, to: str) -> MigrationResult:
    """Take ``db`` back to revision ``to`` (``base`` drops everything)."""
    target = _check_target(db.name, to, allow_base=True)
    with _locked(db) as conn:
        before = _current(conn, db.schema)
        if before is None:
            raise ContimgError(
                f"{db.location} has no contimg version record; run 'contimg db upgrade' first"
            )
        revs = history(db.name)
        if target != "base" and revs.index(before) < revs.index(target):
            raise ContimgError(
                f"{db.location} is at {before}, older than {target}; use 'contimg db upgrade'"
            )
        _run(db, conn, "downgrade", target)
        return MigrationResult(db.name, before, _current(conn, db.schema))


def database_for_revision(rev: str) -> str:
    """The database a revision id belongs to (revision ids start with its name)."""
    from contimg.config import DATABASE_NAMES

    for name in DATABASE_NAMES:
        if rev in history(name):
            return name
    known = {name: history(name) for name in DATABASE_NAMES}
    raise ContimgError(f"unknown revision {rev!r}; known revisions: {known}")
