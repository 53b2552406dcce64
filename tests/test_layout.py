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
"""

from __future__ import annotations

import ast
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

KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {
    # The master-sources HEALPix index (catalog.index) is both storage and catalogue
    # code; db's consistency check and the migration that builds the index call it
    # (lazily). Fix: move the index's SQL under db/ (not done in issue 18, point 1).
    ("contimg.db.check", "contimg.catalog.index"): "db check of the catalogue index",
    (
        "contimg.db.migrations.master_sources.versions.master_sources_0003_cone_index_sync",
        "contimg.catalog.index",
    ): "migration that fills the catalogue index",
}
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
