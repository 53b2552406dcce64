"""``contimg ingest``, ``contimg queue`` and ``contimg worker`` on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from contimg.api import create_app
from contimg.cli import app
from contimg.config import Settings
from contimg.db.engine import Database, open_database
from contimg.db.ingest import ingest_files, ingest_queue, subband_files
from contimg.db.queries import ingest as iq
from contimg.errors import ConflictError, ContimgError, NotFoundError
from tests.api.testclient import TestClient
from tests.conftest import deployment_settings, init_databases
from tests.factories import write_group

runner = CliRunner()


def run(cfg: Settings, *args: str) -> str:
    root = ["--home", str(cfg.home)]
    if cfg.database_url:
        root += ["--database-url", cfg.database_url]
    result = runner.invoke(app, [*root, *args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def test_scan_queue_commands_and_retry(idb: Database, fast: Settings) -> None:
    write_group(fast.incoming_path, "2025-10-02T00:12:00")
    write_group(fast.incoming_path, "2025-10-02T00:17:09", subbands=range(12))
    (fast.incoming_path / "2025-10-02T00:22:18_sb00.hdf5").write_bytes(b"junk")
    out = run(fast, "ingest", "scan", "--finalize")
    assert "1 rejected" in out and "1 groups now pending" in out

    stats = json.loads(run(fast, "queue", "status", "--json"))
    assert stats == {
        "total": 3,
        "pending": 1,
        "in_progress": 0,
        "completed": 0,
        "failed": 2,
        "collecting": 0,
    }
    assert "failed" in run(fast, "queue", "status")

    listed = run(fast, "queue", "list", "--state", "failed")
    assert "2025-10-02T00:17:09" in listed and "missing sb12, sb13, sb14, sb15" in listed
    assert "2025-10-02T00:12:00" not in listed

    shown = run(fast, "queue", "show", "2025-10-02T00:22:18")
    assert "REJECTED" in shown and "cannot open as HDF5" in shown
    shown = run(fast, "queue", "show", "2025-10-02T00:12:00")
    assert "16 of 16" in shown and "2025-10-02T00:12:00_sb15.hdf5" in shown

    out = run(fast, "queue", "retry", "2025-10-02T00:17:09")
    assert "failed -> pending with 12 of 16 subbands" in out
    # The junk file is replaced by a good copy: retry takes it.
    write_group(fast.incoming_path, "2025-10-02T00:22:18", subbands=[0])
    out = run(fast, "queue", "retry", "--all-failed")
    assert (
        "2025-10-02T00:22:18: failed -> pending with 1 of 16 subbands; 1 previously rejected" in out
    )
    with idb.read() as conn:
        assert iq.count_by_state(conn)["pending"] == 3

    run(fast, "worker", "--drain", "--no-builtin-stages")
    assert json.loads(run(fast, "queue", "status", "--json"))["completed"] == 3
    shown = run(fast, "queue", "show", "2025-10-02T00:12:00")
    assert "total_time" in shown and "completed" in shown


def test_clear_errors(idb: Database, fast: Settings) -> None:
    with pytest.raises(ContimgError, match="unknown state 'done'"):
        run(fast, "queue", "list", "--state", "done")
    with pytest.raises(NotFoundError, match="no group '2000-01-01T00:00:00'"):
        run(fast, "queue", "show", "2000-01-01T00:00:00")
    with pytest.raises(ContimgError, match="either a GROUP or --all-failed"):
        run(fast, "queue", "retry")
    with pytest.raises(ContimgError, match="is not a directory"):
        run(fast, "ingest", "scan", str(fast.home / "nowhere"))


def test_commands_refuse_a_missing_database(fast: Settings) -> None:
    with pytest.raises(ContimgError, match="contimg db init"):
        run(fast, "queue", "status")


def test_help_texts() -> None:
    for args in (
        ["ingest", "--help"],
        ["queue", "--help"],
        ["worker", "--help"],
        ["ingest", "watch", "--help"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0
        assert "Usage" in result.output


def _deployment(home: Path) -> Settings:
    """A fresh SQLite deployment under ``home`` with a known write token."""
    cfg = deployment_settings(home=home)
    cfg = cfg.model_copy(
        update={
            "ingest": cfg.ingest.model_copy(update={"settle_s": 0.05}),
            "api": cfg.api.model_copy(update={"write_token": "test-token-0123456789"}),
        }
    )
    init_databases(cfg).dispose()
    return cfg


def _ingest_rows(cfg: Settings) -> dict[str, list[dict[str, object]]]:
    """Every ingest row, without timestamps and with the home in paths as ``<home>``."""
    stamps = {
        "received_at",
        "last_update",
        "heartbeat_at",
        "discovered_at",
        "first_seen_at",
        "last_checked_at",
        "id",
    }
    db = open_database(cfg, "ingest")
    out: dict[str, list[dict[str, object]]] = {}
    try:
        with db.read() as conn:
            for table in (ingest_queue, subband_files, ingest_files):
                rows = []
                for r in conn.execute(sa.select(table)).mappings():
                    rows.append(
                        {
                            k: v.replace(str(cfg.home), "<home>") if isinstance(v, str) else v
                            for k, v in r.items()
                            if k not in stamps
                        }
                    )
                out[table.name] = sorted(rows, key=repr)
    finally:
        db.dispose()
    return out


def test_api_and_cli_retry_leave_the_same_row(tmp_path: Path) -> None:
    """``contimg queue retry`` and ``POST /groups/{id}/retry`` are one retry: the same
    failed group (with a rejected file since replaced) ends the same in both."""
    gid = "2025-10-02T00:22:18"
    via_cli, via_api = _deployment(tmp_path / "cli"), _deployment(tmp_path / "api")
    for cfg in (via_cli, via_api):
        write_group(cfg.incoming_path, gid, subbands=range(1, 12))
        (cfg.incoming_path / f"{gid}_sb00.hdf5").write_bytes(b"junk")
        run(cfg, "ingest", "scan", "--finalize")
        write_group(cfg.incoming_path, gid, subbands=[0])  # a good copy replaces the junk
    before = _ingest_rows(via_cli)
    assert before == _ingest_rows(via_api)
    assert [g["state"] for g in before["ingest_queue"]] == ["failed"]

    assert "1 previously rejected file(s) now readable" in run(via_cli, "queue", "retry", gid)
    with TestClient(create_app(via_api, events=False)) as client:
        r = client.post(
            f"/api/v1/groups/{gid}/retry",
            headers={"Authorization": "Bearer test-token-0123456789"},
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"group_id": gid, "state": "pending", "retry_count": 0}
        again = client.post(
            f"/api/v1/groups/{gid}/retry",
            headers={"Authorization": "Bearer test-token-0123456789"},
        )
        assert again.status_code == 409
    with pytest.raises(ConflictError, match="pending, not failed"):
        run(via_cli, "queue", "retry", gid)

    after = _ingest_rows(via_cli)
    assert after != before
    assert after == _ingest_rows(via_api)
    assert [g["state"] for g in after["ingest_queue"]] == ["pending"]
    assert len(after["subband_files"]) == 12
