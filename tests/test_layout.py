"""Imports between contimg's packages flow one way.

Every module under ``src/contimg`` is parsed (no import of the code) and each
``import contimg...`` / ``from contimg... import`` is checked against
:data:`ALLOWED_IMPORTS`, wherever it is written: at module level or inside a function
(a lazy import is still a dependency). Imports under ``if TYPE_CHECKING:`` are for
the type checker only and are not counted.

A *unit* is a top-level package or module of ``contimg`` (``db``, ``stages``,
``config``, ...); ``contimg`` itself is the package root (``__version__``). Imports
within one unit are free, except between stage modules (see
:func:`test_stage_modules_are_not_imported_sideways`).

New code follows the table; a new package gets a row. Widening a row is a design
decision: make it in this table, with its reason, not by an exception.

SQL lives in ``db/`` only (:func:`test_no_sql_outside_db`, the same parse of every
module): elsewhere, nothing runs a statement, builds one with SQLAlchemy or holds SQL
text.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import contimg

SRC = Path(contimg.__file__).resolve().parent

FOUNDATION = frozenset({"contimg", "config", "errors", "models", "telescope"})
"""What any service or entry point may use: version, settings, errors, the shared
vocabulary (pydantic models) and the instrument's constants."""

SERVICES = frozenset(
    {"calibration", "catalog", "conversion", "imaging", "mosaic", "photometry", "variability"}
)

ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    # -- foundation: nothing of contimg (models: the vocabulary of science/)
    "contimg": frozenset(),
    "errors": frozenset(),
    "telescope": frozenset(),
    "config": frozenset(),
    "models": frozenset({"science"}),
    # -- pure science (numpy/scipy/astropy): no storage, settings, stages or entry points
    "science": frozenset({"errors", "telescope"}),
    "sim": frozenset({"errors", "science", "telescope"}),
    # -- storage: SQL only, never a service, a stage or an entry point
    "db": frozenset({"config", "errors", "models", "telescope"}),
    # -- services: science + storage; never stages, ingest or entry points
    # catalog -> imaging: the footprint of a survey FITS image (imaging.fits reads it)
    "catalog": FOUNDATION | {"db", "imaging", "science"},
    "imaging": FOUNDATION | {"science"},
    "calibration": FOUNDATION | {"db", "science"},
    "conversion": FOUNDATION | {"calibration", "science"},
    "variability": FOUNDATION | {"db", "science"},
    "photometry": FOUNDATION | {"catalog", "db", "imaging", "science", "variability"},
    "mosaic": FOUNDATION | {"catalog", "db", "imaging", "science"},
    # -- the pipeline: stages adapt a context to the services; ingest runs them
    "stages": FOUNDATION | SERVICES | {"db", "science"},
    # ingest -> calibration: hooks.install_builtin_matcher (explicit, at start-up)
    "ingest": FOUNDATION | {"calibration", "db", "science", "stages"},
    # -- entry points: services, never stages/ (the worker runs them, via ingest)
    "api": FOUNDATION | SERVICES | {"db", "ingest", "science"},
    "supervisor": frozenset(),
    "demo": FOUNDATION | SERVICES | {"api", "db", "ingest", "science", "sim", "supervisor"},
    "cli": FOUNDATION | SERVICES | {"api", "db", "demo", "ingest", "science", "sim", "supervisor"},
    "__main__": frozenset({"cli"}),
}
"""Unit -> the other units it may import."""

KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}
"""(importing module, imported module) -> why it is allowed although its row forbids it."""

STAGE_SHARED = frozenset({"contimg.stages", "contimg.stages.base", "contimg.stages.artifacts"})
"""What stage modules share: the contract and the artifacts helpers."""

STAGE_COMPOSITION = "contimg.stages.builtin"
"""The one module that imports the stage modules (and registers them)."""


@dataclass(frozen=True)
class Import:
    module: str
    """The importing module (dotted)."""
    target: str
    """The imported module (dotted; ``from a import b`` counts as ``a``)."""
    line: int
    top_level: bool

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "contimg"


def _type_checking_only(tree: ast.Module) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            ids.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return ids


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def _imports() -> Iterator[Import]:
    for path in sorted(SRC.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(), filename=str(path))
        skip = _type_checking_only(tree)
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # ``from contimg.stages import calibrate``: the submodule is the target
                subs = [f"{node.module}.{a.name}" for a in node.names]
                targets = [t for t in subs if _is_module(t)]
                if len(targets) < len(subs):
                    targets.append(node.module)
            else:
                continue
            for target in targets:
                if target == "contimg" or target.startswith("contimg."):
                    yield Import(module, target, node.lineno, id(node) in top)


IMPORTS = list(_imports())


def test_every_unit_has_a_row() -> None:
    units = {_unit(_module_name(p)) for p in SRC.rglob("*.py")}
    missing = sorted(units - ALLOWED_IMPORTS.keys())
    assert not missing, f"add a row to ALLOWED_IMPORTS for: {', '.join(missing)}"


def test_imports_flow_one_way() -> None:
    bad = []
    used_exceptions = set()
    for imp in IMPORTS:
        src, dst = _unit(imp.module), _unit(imp.target)
        if src == dst or (dst in ALLOWED_IMPORTS[src]):
            continue
        if (imp.module, imp.target) in KNOWN_EXCEPTIONS:
            used_exceptions.add((imp.module, imp.target))
            continue
        bad.append(f"{imp} ({src}/ may not import {dst}/)")
    assert not bad, "imports against tests/test_layout.py ALLOWED_IMPORTS:\n" + "\n".join(bad)
    stale = sorted(set(KNOWN_EXCEPTIONS) - used_exceptions)
    assert not stale, f"KNOWN_EXCEPTIONS no longer needed, remove them: {stale}"


def test_api_and_cli_never_import_stages() -> None:
    bad = [
        str(imp)
        for imp in IMPORTS
        if _unit(imp.module) in ("api", "cli") and _unit(imp.target) == "stages"
    ]
    assert not bad, "\n".join(bad)
    assert "stages" not in ALLOWED_IMPORTS["api"] | ALLOWED_IMPORTS["cli"]


def test_science_and_db_stay_below() -> None:
    for unit, never in (
        ("science", {"db", "api", "cli", "stages", "ingest"}),
        ("db", {"api", "cli", "stages", "ingest"}),
        ("stages", {"api", "cli"}),
    ):
        assert not never & ALLOWED_IMPORTS[unit], unit
        bad = [str(i) for i in IMPORTS if _unit(i.module) == unit and _unit(i.target) in never]
        assert not bad, "\n".join(bad)


def _stage_module(name: str) -> bool:
    return (
        name.startswith("contimg.stages.")
        and name not in STAGE_SHARED
        and name != STAGE_COMPOSITION
        and _is_module(name)
    )


def test_stage_modules_are_not_imported_sideways() -> None:
    """A stage module is imported only by :data:`STAGE_COMPOSITION`: what two stages
    share lives in ``stages/base.py`` / ``stages/artifacts.py`` or in a service."""
    bad = [
        str(imp) for imp in IMPORTS if _stage_module(imp.target) and imp.module != STAGE_COMPOSITION
    ]
    assert not bad, "\n".join(bad)


def test_nothing_imports_the_stage_composition_at_module_level() -> None:
    """The built-in stages load at the worker's start-up only (heavy imports)."""
    bad = [
        str(imp)
        for imp in IMPORTS
        if imp.target == STAGE_COMPOSITION and imp.top_level and _unit(imp.module) != "stages"
    ]
    assert not bad, "\n".join(bad)


def test_importing_the_api_loads_no_stage() -> None:
    code = (
        "import sys, contimg.api.app, contimg.cli, contimg.ingest.scanner; "
        "print(sorted(m for m in sys.modules if m.startswith('contimg.stages')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_no_stage_module_registers_itself_on_import() -> None:
    """Registration is explicit (:func:`contimg.stages.builtin.load_builtin_stages`);
    the calibrator matcher too (:func:`contimg.ingest.hooks.install_builtin_matcher`)."""
    code = (
        "import contimg.stages.convert, contimg.stages.calibrate, contimg.stages.image, "
        "contimg.stages.photometry, contimg.calibration.matcher\n"
        "from contimg.stages.base import REGISTRY\n"
        "from contimg.ingest import hooks\n"
        "print(REGISTRY.names(), hooks.get_calibrator_matcher())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[] None"


MAX_MODULE_LINES = 600

LARGE_MODULES: dict[str, str] = {}
"""Modules allowed over :data:`MAX_MODULE_LINES` for now (remove a row once split)."""


def test_no_module_is_over_the_size_limit() -> None:
    lines = {_module_name(p): len(p.read_text().splitlines()) for p in SRC.rglob("*.py")}
    bad = sorted(
        f"{m}: {n} lines"
        for m, n in lines.items()
        if n > MAX_MODULE_LINES and m not in LARGE_MODULES
    )
    assert not bad, f"split modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(bad)


# ------------------------------------------------------------------ SQL lives in db/

SQL_EXECUTORS = frozenset({"execute", "executemany", "executescript", "exec_driver_sql"})
"""Methods that run a statement (SQLAlchemy connections, DB-API connections and cursors)."""

TABLE_STATEMENTS = frozenset({"select", "insert", "update", "delete"})
"""``Table.insert()`` and the like: methods called without arguments that build a statement."""

SQLALCHEMY_OUTSIDE_DB = frozenset(
    {"sqlalchemy.exc", "sqlalchemy.engine.Connection", "sqlalchemy.engine.Engine"}
)
"""What of SQLAlchemy other packages may use: its exceptions (to catch them) and the
``Connection`` / ``Engine`` types (to pass a connection on to ``db/queries``)."""

SQL_TEXT = re.compile(
    r"^\s*(SELECT\s|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\S+\s+SET\s|DELETE\s+FROM\s"
    r"|REPLACE\s+INTO\s|CREATE\s+(TEMP\s+|TEMPORARY\s+|UNIQUE\s+)?(TABLE|INDEX|TRIGGER|VIEW)\s"
    r"|DROP\s+(TABLE|INDEX|TRIGGER|VIEW)\s|ALTER\s+TABLE\s|PRAGMA\s|BEGIN\s|COPY\s)"
)
"""A string that starts like a SQL statement (contimg writes SQL keywords in capitals)."""

SQL_OUTSIDE_DB: dict[str, str] = {}
"""Modules outside ``db/`` allowed to build or run SQL, with the reason (none now)."""


def _sqlalchemy_allowed(name: str) -> bool:
    return name in SQLALCHEMY_OUTSIDE_DB or name.startswith("sqlalchemy.exc.")


@dataclass(frozen=True)
class SqlUse:
    module: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} {self.what}"


def _sql_uses(module: str, source: str) -> Iterator[SqlUse]:
    """What in ``source`` (module ``module``) builds or runs SQL."""
    tree = ast.parse(source)
    skip = _type_checking_only(tree)
    aliases: set[str] = set()  # names bound to the sqlalchemy package itself
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "sqlalchemy":
                    aliases.add(a.asname or a.name)
                elif a.name.startswith("sqlalchemy.") and not _sqlalchemy_allowed(a.name):
                    yield SqlUse(module, node.lineno, f"imports {a.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "sqlalchemy":
                continue
            for a in node.names:
                if not _sqlalchemy_allowed(f"{node.module}.{a.name}"):
                    yield SqlUse(module, node.lineno, f"imports {a.name} from {node.module}")
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in SQL_EXECUTORS:
                yield SqlUse(module, node.lineno, f"calls .{node.func.attr}()")
            elif node.func.attr in TABLE_STATEMENTS and not node.args and not node.keywords:
                yield SqlUse(module, node.lineno, f"builds a statement with .{node.func.attr}()")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and not _sqlalchemy_allowed(f"sqlalchemy.{node.attr}")
        ):
            yield SqlUse(module, node.lineno, f"uses {node.value.id}.{node.attr}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and SQL_TEXT.match(node.value)
        ):  # also the literal parts of an f-string
            yield SqlUse(module, node.lineno, f"holds SQL text {node.value.strip()[:40]!r}")


def _outside_db() -> list[Path]:
    return [
        p for p in sorted(SRC.rglob("*.py")) if _unit(_module_name(p)) not in ("db", "__main__")
    ]


def test_no_sql_outside_db() -> None:
    """Nobody but ``db/`` builds or runs SQL: no statement executed, no SQLAlchemy
    construct (select, insert, update, delete, text, func, inspect, create_engine ...),
    no SQL text. A service passes a ``Connection`` to a function of ``db/queries``."""
    uses = [u for p in _outside_db() for u in _sql_uses(_module_name(p), p.read_text())]
    bad = [str(u) for u in uses if u.module not in SQL_OUTSIDE_DB]
    assert not bad, "SQL outside src/contimg/db/ (move it to db/queries):\n" + "\n".join(bad)
    stale = sorted(set(SQL_OUTSIDE_DB) - {u.module for u in uses})
    assert not stale, f"SQL_OUTSIDE_DB no longer needed, remove them: {stale}"


def test_the_sql_scan_sees_sql() -> None:
    """The scan of :func:`test_no_sql_outside_db` finds each kind of SQL it looks for."""
    code = (
        "import sqlalchemy as sa\n"
        "from sqlalchemy import select\n"
        "from sqlalchemy.exc import OperationalError\n"
        "from sqlalchemy.engine import Connection\n"
        "def f(conn: Connection, raw):\n"
        "    conn.execute(sa.text('SELECT 1'))\n"
        "    raw.execute(f'DELETE FROM t WHERE a = {1}')\n"
        "    stmt = table.insert().values(a=1)\n"
        "    sql = 'CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; END'\n"
        "    try:\n"
        "        pass\n"
        "    except sa.exc.OperationalError:\n"
        "        pass\n"
        "from sqlalchemy.engine import create_engine\n"
        "import sqlalchemy.sql\n"
        "x = sa.engine.create_engine\n"
    )
    found = sorted((u.line, u.what) for u in _sql_uses("contimg.probe", code))
    assert found == [
        (2, "imports select from sqlalchemy"),
        (6, "calls .execute()"),
        (6, "holds SQL text 'SELECT 1'"),
        (6, "uses sa.text"),
        (7, "calls .execute()"),
        (7, "holds SQL text 'DELETE FROM t WHERE a ='"),
        (8, "builds a statement with .insert()"),
        (9, "holds SQL text 'CREATE TRIGGER x AFTER INSERT ON t BEGIN'"),
        (14, "imports create_engine from sqlalchemy.engine"),
        (15, "imports sqlalchemy.sql"),
        (16, "uses sa.engine"),
    ]
