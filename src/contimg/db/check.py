"""``contimg db check``: where each database stands and what is inconsistent in it.

Per database: location, revision, row counts of every table, and findings. A
*problem* is something that makes an answer wrong or a step fail (a stale cone
index, rows breaking the constraints, photometry whose image row is missing,
rows naming files that do not exist, statistics not built from adopted
photometry); each comes with the command (or statement) that fixes it. A *note*
is a state the pipeline handles by itself (rows waiting to enter the cone index,
groups of a dead worker that the next worker claim recovers). Read-only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg.config import Settings
from contimg.db import migrations
from contimg.db.engine import Database
from contimg.db.migrations.fingerprint import VERSION_TABLE

MAX_FILES = 200_000
"""File-existence checks per column stop after this many rows."""


@dataclass
class Finding:
    message: str
    fix: str
    problem: bool = True


@dataclass
class DatabaseReport:
    name: str
    location: str
    revision: str | None
    head: str
    counts: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.problem for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


def _count(conn: Connection, table: str) -> int:
    return int(conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one())


def check_database(db: Database, settings: Settings, *, quick: bool = False) -> DatabaseReport:
    """The report of one database. ``quick`` (right after an adoption, whose rows were
    just checked and whose cone index was just built): no row-by-row scans."""
    st = migrations.status(db)
    rep = DatabaseReport(db.name, db.location, st.current, st.head)
    if not st.exists:
        rep.findings.append(Finding("the database does not exist", "contimg db init"))
        return rep
    with db.read() as conn:
        tables = sorted(
            n
            for n in sa.inspect(conn).get_table_names(schema=db.schema)
            if n != VERSION_TABLE and not n.startswith("sqlite_")
        )
        rep.counts = {t: _count(conn, t) for t in tables}
        from contimg.db.migrations.validate import row_problems

        breaches = [] if quick else row_problems(conn, database=db.name, schema=db.schema)
        if st.unversioned:
            rep.findings.append(
                Finding(
                    "no contimg version record (made outside contimg): adoption pending"
                    + ("; adoption will refuse the rows below" if breaches else ""),
                    "contimg db upgrade",
                )
            )
        elif st.pending:
            rep.findings.append(
                Finding(
                    f"not at the newest schema: {', '.join(st.pending)} pending",
                    "contimg db upgrade",
                )
            )
        for b in breaches:
            rep.findings.append(Finding(b, _fix_for_breach(db.name, b)))
        if st.current is not None and not st.pending:
            extra = _CHECKS.get(db.name)
            if extra is not None:
                rep.findings += extra(db, conn, settings) if not quick else _quick(db, conn)
    return rep


def _fix_for_breach(name: str, text: str) -> str:
    """contimg's commands need a database at head; these rows block adoption, so the
    fixes are statements to run with any SQL client (then 'contimg db upgrade')."""
    if text.startswith("table photometry") and "images.path" in text:
        return (
            "add the missing images rows, or delete the measurements: DELETE FROM photometry "
            "WHERE image_path NOT IN (SELECT path FROM images); then contimg db upgrade"
        )
    if text.startswith("table ese_candidates") and "share it" in text:
        return (
            "keep one active candidate per source and type: UPDATE ese_candidates SET "
            "status = 'dismissed' WHERE id = ... (the others); then contimg db upgrade"
        )
    return f"correct or delete that row of the {name} database; then contimg db upgrade"


# ------------------------------------------------------------------ per database


def _master_sources(db: Database, conn: Connection, settings: Settings) -> list[Finding]:
    from contimg.db.queries import cone_index

    if not db.is_sqlite:
        return [Finding(p.message, p.fix) for p in cone_index.pg_problems(conn, schema=db.schema)]
    problems, pending = cone_index.index_problems(conn)
    out = [Finding(p.message, p.fix) for p in problems]
    if pending:
        out.append(
            Finding(
                f"{pending} sources rows written since the cone index was updated (cone "
                "searches read them from sources; many of them slow the searches)",
                "contimg catalog reindex",
                problem=False,
            )
        )
    return out


def _quick(db: Database, conn: Connection) -> list[Finding]:
    return _products_state(conn) if db.name == "products" else []


def _exists(path: str, base: Path) -> bool:
    p = Path(path)
    return (p if p.is_absolute() else base / p).exists()


def _missing_files(
    conn: Connection, table: str, column: str, base: Path, where: str = ""
) -> tuple[int, list[str]]:
    rows = conn.execute(
        sa.text(
            f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL {where} LIMIT {MAX_FILES}"
        )
    ).all()
    missing = [str(r[0]) for r in rows if not _exists(str(r[0]), base)]
    return len(missing), missing[:3]


def _files_finding(table: str, column: str, n: int, examples: list[str], fix: str) -> Finding:
    return Finding(
        f"{n} {table} rows name a {column} that does not exist (e.g. {', '.join(examples)})", fix
    )


def _products(db: Database, conn: Connection, settings: Settings) -> list[Finding]:
    out: list[Finding] = []
    base = settings.products_path
    for table, column, fix, problem in (
        ("images", "path", "restore the files from a backup, or reprocess the groups "
         "(contimg queue retry GROUP)", True),
        ("mosaics", "path", "restore the files, or rebuild the mosaics (contimg mosaic build)",
         True),
        # Measurement sets are often removed once imaged: a note, not a problem.
        ("ms_index", "path", "restore the measurement sets if they are still needed", False),
    ):  # fmt: skip
        n, ex = _missing_files(conn, table, column, base)
        if n:
            f = _files_finding(table, column, n, ex, fix)
            f.problem = problem
            out.append(f)
    return out + _products_state(conn)


def _products_state(conn: Connection) -> list[Finding]:
    """Photometry of sources whose running statistics were never built (an adopted
    database, or rows written by another program): the next image would start their
    statistics from zero."""
    out: list[Finding] = []
    n = int(
        conn.execute(
            sa.text(
                "SELECT count(*) FROM (SELECT DISTINCT p.source_id FROM photometry AS p "
                "WHERE NOT EXISTS (SELECT 1 FROM variability_sums AS v "
                "WHERE v.source_id = p.source_id)) AS m"
            )
        ).scalar_one()
    )
    if n:
        out.append(
            Finding(
                f"{n} sources have photometry but no variability state (adopted or written "
                "outside contimg): their statistics would ignore those measurements",
                "contimg variability recompute",
            )
        )
    return out


def _cal_registry(db: Database, conn: Connection, settings: Settings) -> list[Finding]:
    rows = conn.execute(
        sa.text("SELECT set_name, path FROM caltables WHERE active = 1 ORDER BY set_name")
    ).all()
    gone: dict[str, list[str]] = {}
    for set_name, path in rows[:MAX_FILES]:
        if not _exists(str(path), settings.state_path):
            gone.setdefault(str(set_name), []).append(str(path))
    return [
        Finding(
            f"active calibration set {name} names tables that do not exist: {', '.join(paths)}",
            f"contimg cal deactivate {name}",
        )
        for name, paths in gone.items()
    ]


def _ingest(db: Database, conn: Connection, settings: Settings) -> list[Finding]:
    import time

    n = int(
        conn.execute(
            sa.text(
                "SELECT count(*) FROM ingest_queue WHERE state IN ('in_progress', "
                "'processing_fresh') AND (lease_expires_at IS NULL OR lease_expires_at < :now)"
            ),
            {"now": time.time()},
        ).scalar_one()
    )
    if not n:
        return []
    return [
        Finding(
            f"{n} groups are in progress without a live worker lease (a worker died, or an "
            "older pipeline left them): the next worker claim returns them to pending",
            "contimg worker (or any running worker) recovers them",
            problem=False,
        )
    ]


_CHECKS = {
    "master_sources": _master_sources,
    "products": _products,
    "cal_registry": _cal_registry,
    "ingest": _ingest,
}
