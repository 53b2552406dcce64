"""Helpers shared by the test suite: the spec tables and columns, database dumps,
worker environments. (The factories of rows and images are :mod:`tests.factories`.)"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from contimg.config import Settings
from contimg.db import cal_registry, ingest, master_sources, products
from contimg.db.engine import Databases

SPEC_TABLES: dict[str, list[sa.Table]] = {
    "ingest": [ingest.ingest_queue, ingest.subband_files, ingest.performance_metrics],
    "cal_registry": [cal_registry.caltables],
    "products": [
        products.ms_index,
        products.images,
        products.photometry,
        products.variability_stats,
        products.ese_candidates,
        products.mosaics,
    ],
    "master_sources": [master_sources.sources],
}


@functools.cache
def spec_columns() -> dict[str, list[str]]:
    """Table -> its columns as the specification's DDL defines them."""
    from tests.db.spec_ddl import spec_ddl

    out: dict[str, list[str]] = {}
    for ddl in spec_ddl().values():
        con = sqlite3.connect(":memory:")
        con.executescript(ddl)
        for (table,) in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        ):
            out[table] = [r[1] for r in con.execute(f"PRAGMA table_info('{table}')")]
        con.close()
    return out


def dump(dbs: Databases) -> dict[str, list[tuple[Any, ...]]]:
    """Every spec column of every spec table's rows, sorted: to prove nothing is lost."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for name, tables in SPEC_TABLES.items():
        with dbs[name].read() as conn:
            for table in tables:
                cols = [table.c[c] for c in spec_columns()[table.name]]
                rows = conn.execute(sa.select(*cols)).all()
                out[table.name] = sorted(tuple(r) for r in rows)
    return out


def worker_env(
    cfg: Settings, record_dir: Path, *, stage_module: str, **extra: str
) -> dict[str, str]:
    """Environment for a ``contimg worker`` subprocess of ``cfg`` that runs only the test
    stages of ``stage_module`` (which record their events under ``record_dir``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTIMG_")}
    env.update(
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
        CONTIMG_HOME=str(cfg.home),
        CONTIMG_WORKER__STAGE_MODULES=json.dumps([stage_module]),
        CONTIMG_WORKER__BUILTIN_STAGES="false",
        CONTIMG_WORKER__POLL_INTERVAL_S="0.2",
        CONTIMG_WORKER__MIN_FREE_GB=str(cfg.worker.min_free_gb),
        CONTIMG_TEST_RECORD_DIR=str(record_dir),
        OPENBLAS_NUM_THREADS="1",
    )
    if cfg.database_url:
        env["CONTIMG_DATABASE_URL"] = cfg.database_url
    env.update(extra)
    return env
