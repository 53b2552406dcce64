"""The specification's DDL, read from the specification itself.

The spec lives beside the repository (``../shared/spec/dashboard_data_models.md``,
or ``$CONTIMG_SPEC_PATH``). ``tests/data/spec_ddl.json`` is a copy of its SQL for
checkouts without it; a test keeps the copy equal to the spec when both exist.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
COPY = REPO_ROOT / "tests" / "data" / "spec_ddl.json"

SECTIONS = {
    "ingest": "## Ingest Queue Database",
    "products": "## Products Database",
    "cal_registry": "## Calibration Registry",
    "master_sources": "## Master Sources Catalog",
}


def spec_path() -> Path | None:
    env = os.environ.get("CONTIMG_SPEC_PATH")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "spec" / "dashboard_data_models.md")
    return next((p for p in candidates if p.is_file()), None)


def parse_spec(text: str) -> dict[str, str]:
    """Database name -> the concatenated ```sql blocks of its section."""
    heads = [(m.start(), m.group(0).strip()) for m in re.finditer(r"^## .*$", text, re.M)]
    out: dict[str, str] = {}
    for name, heading in SECTIONS.items():
        start = next(pos for pos, h in heads if h == heading)
        end = min((pos for pos, _ in heads if pos > start), default=len(text))
        blocks = re.findall(r"```sql\n(.*?)```", text[start:end], re.S)
        out[name] = "\n".join(blocks)
    return out


def spec_ddl() -> dict[str, str]:
    """The spec's DDL per database (from the spec when present, else the copy)."""
    path = spec_path()
    if path is not None:
        return parse_spec(path.read_text(encoding="utf-8"))
    return dict(json.loads(COPY.read_text(encoding="utf-8")))


def create_spec_sqlite(path: Path, name: str) -> Path:
    """A SQLite file made with the spec's DDL of database ``name``, as a user
    without contimg would make it (plain ``sqlite3``, no version record)."""
    import sqlite3

    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    try:
        con.executescript(spec_ddl()[name])
    finally:
        con.close()
    return path
