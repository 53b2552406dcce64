"""Four processes writing to the same databases at once: no "database is locked",
no lost row (SQLite with WAL + BEGIN IMMEDIATE + busy timeout; PostgreSQL)."""

from __future__ import annotations

import multiprocessing as mp
import time

import sqlalchemy as sa

from contimg.config import Settings
from contimg.db import ingest
from contimg.db.engine import Databases
from tests.conftest import init_databases

N_PROCS = 4
DURATION_S = 3.0


def _writer(settings_json: str, proc: int, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    settings = Settings.model_validate_json(settings_json)
    dbs = Databases(settings)
    written, errors = 0, []
    gid = f"2025-10-02T00:0{proc}:00"
    try:
        with dbs.ingest.write() as conn:
            conn.execute(
                ingest.ingest_queue.insert().values(
                    group_id=gid, state="collecting", received_at=time.time(), last_update=0
                )
            )
        deadline = time.monotonic() + DURATION_S
        i = 0
        while time.monotonic() < deadline:
            with dbs.ingest.write() as conn:
                # read-modify-write on a shared row and an insert: the worst case for locks
                n = conn.execute(
                    sa.select(sa.func.count()).select_from(ingest.subband_files)
                ).scalar_one()
                conn.execute(
                    ingest.subband_files.insert().values(
                        group_id=gid,
                        subband_idx=i,
                        file_path=f"/in/{proc}/{i}.hdf5",
                        file_size=int(n),
                        discovered_at=time.time(),
                    )
                )
                conn.execute(
                    ingest.ingest_queue.update()
                    .where(ingest.ingest_queue.c.group_id == gid)
                    .values(last_update=ingest.ingest_queue.c.last_update + 1)
                )
            written += 1
            i += 1
            with dbs.ingest.read() as conn:
                conn.execute(sa.select(sa.func.max(ingest.subband_files.c.id))).scalar()
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        dbs.dispose()
    queue.put((proc, written, errors))


def test_four_writers_lose_nothing(settings: Settings) -> None:
    init_databases(settings).dispose()
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [
        ctx.Process(target=_writer, args=(settings.model_dump_json(), p, queue))
        for p in range(N_PROCS)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    errors = [e for _, _, errs in results for e in errs]
    assert errors == []
    written = {proc: n for proc, n, _ in results}
    assert all(n > 0 for n in written.values())
    dbs = Databases(settings)
    with dbs.ingest.read() as conn:
        rows = conn.execute(
            sa.select(ingest.ingest_queue.c.group_id, ingest.ingest_queue.c.last_update)
        ).all()
        total = conn.execute(
            sa.select(sa.func.count()).select_from(ingest.subband_files)
        ).scalar_one()
    dbs.dispose()
    assert total == sum(written.values())
    assert sorted(int(lu) for _, lu in rows) == sorted(written.values())
