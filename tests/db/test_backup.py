"""``contimg db backup``: consistent copies of the SQLite databases while a writer writes."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from typer.testing import CliRunner

from contimg.cli import app
from contimg.config import Settings
from contimg.db import ingest
from contimg.db.engine import Databases
from tests.conftest import init_databases

runner = CliRunner()


def _writer(dbs: Databases, stop: threading.Event, written: list[int]) -> None:
    """One transaction per group: the group and its 16 subband rows, together."""
    i = 0
    while not stop.is_set():
        gid = f"2025-10-02T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
        with dbs.ingest.write() as conn:
            conn.execute(
                ingest.ingest_queue.insert().values(
                    group_id=gid, state="pending", received_at=i, last_update=i
                )
            )
            conn.execute(
                ingest.subband_files.insert(),
                [
                    {
                        "group_id": gid,
                        "subband_idx": sb,
                        "file_path": f"/in/{gid}_sb{sb:02d}.hdf5",
                        "discovered_at": i,
                    }
                    for sb in range(16)
                ],
            )
        i += 1
        written[0] = i


def test_backup_while_writing_is_consistent(sqlite_settings: Settings, tmp_path: Path) -> None:
    dbs = init_databases(sqlite_settings)
    stop = threading.Event()
    written = [0]
    thread = threading.Thread(target=_writer, args=(dbs, stop, written), daemon=True)
    thread.start()
    try:
        while written[0] < 200:
            time.sleep(0.01)
        before = written[0]
        dest = tmp_path / "backup"
        result = runner.invoke(
            app, ["--home", str(sqlite_settings.home), "db", "backup", str(dest)]
        )
        during = written[0]
        time.sleep(0.2)
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(10)
        dbs.dispose()
    assert result.exit_code == 0, result.output
    assert result.output.count(", ok)") == 4, result.output
    assert during > before  # the writer went on while the copy was taken
    copy = dest / "ingest.sqlite3"
    assert (dest / "db" / "master_sources.sqlite3").is_file()
    con = sqlite3.connect(copy)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n_groups = con.execute("SELECT count(*) FROM ingest_queue").fetchone()[0]
        torn = con.execute(
            "SELECT count(*) FROM ingest_queue q WHERE "
            "(SELECT count(*) FROM subband_files f WHERE f.group_id = q.group_id) != 16"
        ).fetchone()[0]
        orphans = con.execute(
            "SELECT count(*) FROM subband_files f WHERE f.group_id NOT IN "
            "(SELECT group_id FROM ingest_queue)"
        ).fetchone()[0]
        revision = con.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        con.close()
    assert before <= n_groups <= written[0]
    assert torn == 0 and orphans == 0
    assert revision.startswith("ingest_")
    # The copy is a deployment of its own: contimg opens it.
    status = runner.invoke(app, ["--state-dir", str(dest), "db", "status", "--db", "ingest"])
    assert status.exit_code == 0 and "pending:  none" in status.output, status.output


def test_backup_refuses_what_it_cannot_copy(settings: Settings, tmp_path: Path) -> None:
    args = ["--home", str(settings.home)]
    if settings.database_url:
        args += ["--database-url", settings.database_url]
    result = runner.invoke(app, [*args, "db", "backup", str(tmp_path / "b")])
    assert result.exit_code != 0
    if settings.backend == "postgresql":
        assert "pg_dump" in str(result.exception)
    else:  # nothing created yet
        assert "ingest.sqlite3 does not exist" in str(result.exception)
    assert not (tmp_path / "b" / "ingest.sqlite3").exists()


def test_backup_into_the_state_dir_is_refused(sqlite_settings: Settings) -> None:
    init_databases(sqlite_settings).dispose()
    result = runner.invoke(
        app, ["--home", str(sqlite_settings.home), "db", "backup", str(sqlite_settings.state_path)]
    )
    assert result.exit_code != 0 and "is the state directory itself" in str(result.exception)
