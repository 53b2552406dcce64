"""Writes: bearer token (401 without), retry, calibration (de)activation, candidate
status, notes, flagging; the token generated on first run."""

from __future__ import annotations

import stat
import urllib.parse

import pytest

from contimg.api import create_app
from contimg.api.auth import load_or_create_token, token_path
from contimg.config import Settings
from tests.api.testclient import TestClient
from tests.factories.api import MJD0, STATES, Deployment, sid

V1 = "/api/v1"


def q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


def test_writes_need_the_token(client: TestClient, deployment: Deployment) -> None:
    g = q(deployment.groups[STATES.index("failed")])
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        r = client.post(f"{V1}/groups/{g}/retry", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"] == "Bearer"
    assert client.post(f"{V1}/calibration/sets/cal_old/activate").status_code == 401
    assert client.post(f"{V1}/candidates/1/notes", json={"note": "x"}).status_code == 401
    assert client.get(f"{V1}/auth/check").status_code == 401
    # Nothing changed.
    assert client.get(f"{V1}/groups/{g}").json()["group"]["state"] == "failed"


def test_retry(client: TestClient, deployment: Deployment, auth: dict[str, str]) -> None:
    g = q(deployment.groups[STATES.index("failed")])
    r = client.post(f"{V1}/groups/{g}/retry", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json() == {"group_id": deployment.groups[5], "state": "pending", "retry_count": 0}
    detail = client.get(f"{V1}/groups/{g}").json()
    assert detail["group"]["state"] == "pending" and detail["group"]["error_message"] is None
    # Not failed any more: a conflict, named.
    again = client.post(f"{V1}/groups/{g}/retry", headers=auth)
    assert again.status_code == 409 and "pending" in again.json()["detail"]
    assert client.post(f"{V1}/groups/1999-01-01T00:00:00/retry", headers=auth).status_code == 404


def test_calibration_activation(client: TestClient, auth: dict[str, str]) -> None:
    r = client.post(f"{V1}/calibration/sets/cal_3c286_b/deactivate", headers=auth)
    assert r.json() == {"set_name": "cal_3c286_b", "active": False, "n_tables": 3}
    applied = client.get(f"{V1}/calibration/applicable", params={"mjd": MJD0}).json()
    assert applied["set"]["set_name"] == "cal_3c286_a"
    client.post(f"{V1}/calibration/sets/cal_old/activate", headers=auth)
    applied = client.get(f"{V1}/calibration/applicable", params={"mjd": MJD0 - 7}).json()
    assert applied["set"]["set_name"] == "cal_old"
    assert client.post(f"{V1}/calibration/sets/none/activate", headers=auth).status_code == 404


def test_candidate_status_and_notes(
    client: TestClient, deployment: Deployment, auth: dict[str, str]
) -> None:
    cid = deployment.candidate_ids[0]
    r = client.post(
        f"{V1}/candidates/{cid}/status",
        json={"status": "false_positive", "note": "RFI in that image"},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "dismissed" and r.json()["spec_status"] == "false_positive"
    assert "RFI in that image" in r.json()["notes"]
    r = client.post(
        f"{V1}/candidates/{cid}/notes", json={"note": "second look", "author": "ann"}, headers=auth
    )
    notes = r.json()["notes"]
    assert "RFI in that image" in notes and "ann] second look" in notes  # appended
    exported = client.get(f"{V1}/candidates/export", params={"format": "json"}).json()
    row = next(c for c in exported if c["id"] == cid)
    assert row["status"] == "dismissed" and row["dismissed_at"] is not None
    # Field-level messages for bad bodies.
    # The workflow: a false positive can only go back to active, named in the answer.
    r = client.post(f"{V1}/candidates/{cid}/status", json={"status": "investigated"}, headers=auth)
    assert r.status_code == 400 and "allowed: active" in r.json()["detail"]
    bad = client.post(f"{V1}/candidates/{cid}/status", json={"status": "gone"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "status"]
    empty = client.post(f"{V1}/candidates/{cid}/notes", json={"note": ""}, headers=auth)
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "note"]
    missing = client.post(f"{V1}/candidates/999/notes", json={"note": "x"}, headers=auth)
    assert missing.status_code == 404


def test_flag_source(client: TestClient, deployment: Deployment, auth: dict[str, str]) -> None:
    r = client.post(
        f"{V1}/sources/{q(sid(0))}/flag",
        json={"flagged_by": "ann@example.org", "note": "odd shape"},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    cand = r.json()
    assert cand["source_id"] == sid(0) and cand["status"] == "active"
    again = client.post(
        f"{V1}/sources/{q(sid(0))}/flag",
        json={"flagged_by": "bob", "note": "agree"},
        headers=auth,
    ).json()
    assert again["id"] == cand["id"]  # one open user flag per source
    assert "odd shape" in again["notes"] and "agree" in again["notes"]
    rows = client.get(f"{V1}/candidates/export", params={"format": "json", "flag_type": "user"})
    assert [c["flagged_by"] for c in rows.json()] == ["ann@example.org"]
    unknown = client.post(
        f"{V1}/sources/{q('NVSS J0+0')}/flag", json={"flagged_by": "x"}, headers=auth
    )
    assert unknown.status_code == 404


def test_token_generated_once_with_mode_0600(settings: Settings) -> None:
    assert settings.api.write_token is None
    token, created = load_or_create_token(settings)
    assert created and len(token) >= 32
    path = token_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_token(settings) == (token, False)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=False)
def test_reads_can_require_the_token(dbs: object, settings: Settings) -> None:
    s = settings.model_copy(
        update={
            "api": settings.api.model_copy(
                update={"write_token": "t0k", "require_token_for_reads": True}
            )
        }
    )
    with TestClient(create_app(s, events=False)) as c:
        assert c.get(f"{V1}/status").status_code == 401
        assert c.get(f"{V1}/status", headers={"Authorization": "Bearer t0k"}).status_code == 200
        assert c.get("/api/openapi.json").status_code == 200


def test_one_triage_vocabulary_through_api_and_cli(
    client: TestClient, deployment: Deployment, auth: dict[str, str]
) -> None:
    """The API and the CLI take and give the same words the table stores (issue 20);
    the browser's part is in frontend/e2e/dashboard.spec.ts + tests/ui."""
    import json

    import sqlalchemy as sa
    from typer.testing import CliRunner

    from contimg.cli import app
    from contimg.db.engine import Databases
    from contimg.db.products import ese_candidates

    s = deployment.settings
    root = ["--home", str(s.home)] + (["--database-url", s.database_url] if s.database_url else [])
    cid = deployment.candidate_ids[0]

    def stored() -> str:
        dbs = Databases(s)
        try:
            with dbs.products.read() as conn:
                sel = sa.select(ese_candidates.c.status).where(ese_candidates.c.id == cid)
                return str(conn.execute(sel).scalar_one())
        finally:
            dbs.dispose()

    def cli(*args: str) -> str:
        res = CliRunner().invoke(app, [*root, "ese", *args])
        assert res.exit_code == 0, res.output
        return res.stdout

    # API: the dashboard's word in, the same word out and stored.
    r = client.post(f"{V1}/candidates/{cid}/status", json={"status": "investigated"}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "investigated" == stored()
    assert json.loads(cli("show", str(cid), "--json"))["candidate"]["status"] == "investigated"
    # CLI: the same word; the API reads it back unchanged.
    cli("status", str(cid), "dismissed", "--note", "sidelobe", "--by", "ana")
    assert stored() == "dismissed"
    got = client.get(f"{V1}/candidates/{cid}").json()
    assert (got["status"], got["spec_status"]) == ("dismissed", "false_positive")
    assert (
        client.get(
            f"{V1}/candidates", params={"status": "dismissed", "source_id": got["source_id"]}
        ).json()["count"]
        == 1
    )
    # The spec's word is accepted as a synonym and stored as the table's.
    r = client.post(f"{V1}/candidates/{cid}/status", json={"status": "active"}, headers=auth)
    r = client.post(f"{V1}/candidates/{cid}/status", json={"status": "resolved"}, headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "investigated" == stored()
