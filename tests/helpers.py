"""Factories shared by the test suite: rows that respect the spec's foreign keys."""

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


def group_id(i: int) -> str:
    """A canonical group id ``i`` groups (309 s) after 2025-10-02T00:00:00."""
    from datetime import UTC, datetime, timedelta

    t = datetime(2025, 10, 2, tzinfo=UTC) + timedelta(seconds=309 * i)
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def populate(dbs: Databases, *, n_groups: int = 3, n_sources: int = 4) -> None:
    """Fill every spec table with a few linked rows."""
    with dbs.ingest.write() as conn:
        for g in range(n_groups):
            gid = group_id(g)
            conn.execute(
                ingest.ingest_queue.insert().values(
                    group_id=gid,
                    state="completed" if g else "failed",
                    received_at=1.7e9 + g,
                    last_update=1.7e9 + g + 1,
                    calibrators="[]",
                    error_message=None if g else "boom",
                )
            )
            for sb in range(16):
                conn.execute(
                    ingest.subband_files.insert().values(
                        group_id=gid,
                        subband_idx=sb,
                        file_path=f"/in/{gid}_sb{sb:02d}.hdf5",
                        file_size=1000 + sb,
                        discovered_at=1.7e9 + g,
                    )
                )
            conn.execute(
                ingest.performance_metrics.insert().values(
                    group_id=gid, writer_type="pyuvdata", total_time=12.5, recorded_at=1.7e9 + g
                )
            )
    with dbs.cal_registry.write() as conn:
        for i, kind in enumerate(("K", "BP", "G")):
            conn.execute(
                cal_registry.caltables.insert().values(
                    set_name="3C286_60950.1",
                    path=f"/cal/3C286_60950.1.{kind}",
                    table_type=kind,
                    order_index=i,
                    valid_start_mjd=60950.0,
                    valid_end_mjd=60951.0,
                    created_at=1.7e9,
                )
            )
    with dbs.master_sources.write() as conn:
        for s in range(n_sources):
            conn.execute(
                master_sources.sources.insert().values(
                    source_id=source_id(s),
                    ra_deg=10.0 + s,
                    dec_deg=54.0,
                    s_nvss=0.05 * (s + 1),
                    snr_nvss=20.0 + s,
                )
            )
    with dbs.products.write() as conn:
        for g in range(n_groups):
            ms = f"/products/{group_id(g)}.ms"
            conn.execute(
                products.ms_index.insert().values(
                    path=ms, mid_mjd=60950.0 + g * 309 / 86400, stage="imaged", status="ok"
                )
            )
            img = f"/products/{group_id(g)}.pbcor.fits"
            conn.execute(
                products.images.insert().values(
                    path=img, ms_path=ms, created_at=1.7e9 + g, type="pbcor", noise_jy=0.001
                )
            )
            for s in range(n_sources):
                conn.execute(
                    products.photometry.insert().values(
                        image_path=img,
                        source_id=source_id(s),
                        ra_deg=10.0 + s,
                        dec_deg=54.0,
                        peak_jyb=0.05 * (s + 1) * (1 + 0.01 * g),
                        peak_err_jyb=0.001,
                        snr=50.0,
                        measured_at=1.7e9 + g,
                        mjd=60950.0 + g * 309 / 86400,
                    )
                )
        for s in range(n_sources):
            conn.execute(
                products.variability_stats.insert().values(
                    source_id=source_id(s),
                    ra_deg=10.0 + s,
                    dec_deg=54.0,
                    n_obs=n_groups,
                    updated_at=1.7e9,
                )
            )
        conn.execute(
            products.ese_candidates.insert().values(
                source_id=source_id(0),
                flagged_at=1.7e9,
                significance=7.5,
                flag_type="variability",
            )
        )
        conn.execute(
            products.mosaics.insert().values(
                path="/products/mosaics/m1.fits",
                name="m1",
                created_at=1.7e9,
                start_mjd=60950.0,
                end_mjd=60950.1,
                integration_sec=3600.0,
            )
        )


def source_id(i: int) -> str:
    return f"NVSS J00{i:02d}00.0+540000"


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
        CONTIMG_TEST_RECORD_DIR=str(record_dir),
        OPENBLAS_NUM_THREADS="1",
    )
    if cfg.database_url:
        env["CONTIMG_DATABASE_URL"] = cfg.database_url
    env.update(extra)
    return env
