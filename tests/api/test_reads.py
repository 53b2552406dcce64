"""Read endpoints on populated data, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import urllib.parse

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from contimg.api.schemas import LightCurvePointOut
from contimg.db.engine import Databases
from contimg.db.queries import patterns
from contimg.science.flags import PhotFlag
from tests.api.testclient import TestClient
from tests.factories.api import DEC0, MJD0, RA0, STATES, Deployment, sid

V1 = "/api/v1"


def deployment_dbs(dep: Deployment) -> Databases:
    return Databases(dep.settings)


def q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


def test_openapi_and_docs(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    assert schema["info"]["title"].startswith("contimg")
    assert all(p.startswith("/api/v1/") for p in schema["paths"])
    assert "PipelineStatus" in schema["components"]["schemas"]
    assert "ESECandidate" in schema["components"]["schemas"]
    assert client.get("/api/docs").status_code == 200


def test_status_is_pipeline_status(client: TestClient, deployment: Deployment) -> None:
    body = client.get(f"{V1}/status").json()
    queue = body["queue"]
    assert queue["total"] == len(deployment.groups)
    assert queue["failed"] == 2 and queue["collecting"] == 2
    assert queue["in_progress"] == 4  # in_progress + processing_fresh
    assert (
        sum(queue[k] for k in ("pending", "in_progress", "completed", "failed", "collecting"))
        == queue["total"]
    )
    assert {s["set_name"] for s in body["calibration_sets"]} == {
        "cal_3c286_a",
        "cal_3c286_b",
        "cal_old",
    }
    recent = body["recent_groups"]
    assert recent[0]["group_id"] == deployment.groups[-1]
    collecting = next(g for g in recent if g["state"] == "collecting")
    assert collecting["subbands_present"] == 10 and collecting["expected_subbands"] == 16


def test_health(client: TestClient, deployment: Deployment) -> None:
    body = client.get(f"{V1}/health").json()
    assert body["ok"] is True
    assert {d["name"] for d in body["databases"]} == {
        "ingest",
        "cal_registry",
        "products",
        "master_sources",
    }
    assert all(d["revision"] for d in body["databases"])
    disks = {d["name"]: d for d in body["disks"]}
    assert disks["products"]["exists"] and disks["products"]["free_bytes"] > 0
    assert disks["incoming"]["exists"] is False
    assert body["workers"] == [
        {
            "worker_id": "worker-a",
            "n_groups": 2,
            "lease_expires_at": body["workers"][0]["lease_expires_at"],
            "heartbeat_at": body["workers"][0]["heartbeat_at"],
            "expired": True,
        }
    ]


def test_groups_filter_sort_page(client: TestClient, deployment: Deployment) -> None:
    page = client.get(f"{V1}/groups", params={"limit": 5}).json()
    assert page["count"] == len(deployment.groups) and len(page["data"]) == 5
    assert [g["group_id"] for g in page["data"]] == deployment.groups[::-1][:5]
    page2 = client.get(f"{V1}/groups", params={"limit": 5, "offset": 5}).json()
    assert [g["group_id"] for g in page2["data"]] == deployment.groups[::-1][5:10]
    failed = client.get(f"{V1}/groups", params={"state": ["failed", "completed"]}).json()
    assert failed["count"] == 4
    assert {g["state"] for g in failed["data"]} == {"failed", "completed"}
    window = client.get(
        f"{V1}/groups",
        params={
            "received_since": 1.764e9 + 300,
            "received_until": 1.764e9 + 1200,
            "sort": "received_at",
        },
    ).json()
    assert [g["group_id"] for g in window["data"]] == deployment.groups[1:4]
    by_size = client.get(f"{V1}/groups", params={"sort": "subbands_present"}).json()
    assert by_size["data"][0]["subbands_present"] == 10


def test_bad_sort_and_filter_are_422(client: TestClient) -> None:
    r = client.get(f"{V1}/groups", params={"sort": "password"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "sort"]
    assert "allowed" in r.json()["detail"][0]["msg"]
    r = client.get(f"{V1}/groups", params={"state": "exploded"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "state", 0]
    r = client.get(f"{V1}/groups", params={"limit": 0})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "limit"]
    r = client.get(f"{V1}/sources", params={"ra_deg": 1.0})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "radius_deg"]


def test_group_detail(client: TestClient, deployment: Deployment) -> None:
    g = deployment.groups[STATES.index("completed")]
    body = client.get(f"{V1}/groups/{q(g)}").json()
    assert body["group"]["group_id"] == g
    assert len(body["subband_files"]) == 16
    assert body["total_size_bytes"] == sum(1_000_000 + sb for sb in range(16))
    assert body["missing_subbands"] == []
    timings = {t["stage"]: t["seconds"] for t in body["stage_timings"]}
    assert timings["imaging"] == 60.0 and timings["conversion"] == 30.0 + STATES.index("completed")
    collecting = client.get(f"{V1}/groups/{q(deployment.groups[0])}").json()
    assert collecting["missing_subbands"] == list(range(10, 16))
    failed = client.get(f"{V1}/groups/{q(deployment.groups[5])}").json()
    assert failed["group"]["error_message"] == "wsclean exited with 1"
    assert client.get(f"{V1}/groups/2001-01-01T00:00:00").status_code == 404


def test_calibration(client: TestClient) -> None:
    sets = client.get(f"{V1}/calibration/sets").json()
    assert sets["count"] == 3
    b = next(s for s in sets["data"] if s["set_name"] == "cal_3c286_b")
    assert [t["table_type"] for t in b["tables"]] == ["K", "BP", "G"]
    assert b["valid_start_mjd"] == MJD0 - 0.5 and b["active"] is True
    assert client.get(f"{V1}/calibration/sets", params={"active": False}).json()["count"] == 1
    # Both a and b cover MJD0; b is newer.
    app = client.get(f"{V1}/calibration/applicable", params={"mjd": MJD0}).json()
    assert app["set"]["set_name"] == "cal_3c286_b"
    app = client.get(f"{V1}/calibration/applicable", params={"mjd": MJD0 + 1.5}).json()
    assert app["set"]["set_name"] == "cal_3c286_b"
    app = client.get(f"{V1}/calibration/applicable", params={"mjd": MJD0 - 0.8}).json()
    assert app["set"]["set_name"] == "cal_3c286_a"
    # The inactive old set is never applied.
    assert (
        client.get(f"{V1}/calibration/applicable", params={"mjd": MJD0 - 7}).json()["set"] is None
    )
    tables = client.get(
        f"{V1}/calibration/tables", params={"covers_mjd": MJD0 + 1.5, "table_type": "BP"}
    ).json()
    assert [t["set_name"] for t in tables["data"]] == ["cal_3c286_b"]
    assert client.get(f"{V1}/calibration/sets/nope").status_code == 404


def test_ms_and_images(client: TestClient, deployment: Deployment) -> None:
    ms = client.get(f"{V1}/ms", params={"mjd_min": MJD0 + 0.004, "sort": "mid_mjd"}).json()
    assert ms["count"] == 5
    detail = client.get(f"{V1}/ms/detail", params={"path": ms["data"][0]["path"]}).json()
    assert detail["images"][0]["ms_path"] == ms["data"][0]["path"]
    assert client.get(f"{V1}/ms/detail", params={"path": "/nope.ms"}).status_code == 404
    images = client.get(f"{V1}/images", params={"type": "pbcor", "limit": 2}).json()
    assert images["count"] == 6 and len(images["data"]) == 2
    assert images["data"][0]["id"] == deployment.image_ids[-1]  # newest first
    noisy = client.get(f"{V1}/images", params={"max_noise_jy": 1.25e-3}).json()
    assert noisy["count"] == 3
    cone = client.get(
        f"{V1}/images", params={"ra_deg": RA0 + 0.5, "dec_deg": DEC0, "radius_deg": 0.5}
    ).json()
    assert cone["count"] == 6
    far = client.get(
        f"{V1}/images", params={"ra_deg": RA0 + 1, "dec_deg": DEC0, "radius_deg": 0.5}
    ).json()
    assert far["count"] == 0
    one = client.get(f"{V1}/images/{deployment.image_ids[0]}").json()
    assert one["n_photometry"] == 3 and one["file_available"] is True
    assert client.get(f"{V1}/images/999999").status_code == 404


def test_image_preview_cutout_fits(client: TestClient, deployment: Deployment) -> None:
    iid = deployment.image_ids[0]
    r = client.get(f"{V1}/images/{iid}/preview.png", params={"max_size": 32})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (32, 32)
    plain = np.asarray(img.convert("RGBA"))
    r = client.get(f"{V1}/images/{iid}/preview.png", params={"overlay": True})
    over = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
    assert over.shape == (64, 64, 4)
    # Circles are drawn in cyan: present with the overlay, absent without.
    cyan = (over[..., 0] == 0) & (over[..., 1] == 220) & (over[..., 2] == 255)
    assert cyan.sum() > 20
    assert not ((plain[..., 0] == 0) & (plain[..., 1] == 220)).any()
    # The brightest source (pixel 32, 32) is the brightest spot of the preview.
    r = client.get(
        f"{V1}/images/{iid}/preview.png", params={"stretch": "linear", "upper_percentile": 100}
    )
    grey = np.asarray(Image.open(io.BytesIO(r.content)).convert("L"))
    y, x = np.unravel_index(np.argmax(grey), grey.shape)
    assert (x, 63 - y) == (32, 32)  # PNG rows run north to south
    fits_r = client.get(f"{V1}/images/{iid}/fits")
    assert fits_r.status_code == 200
    with fits.open(io.BytesIO(fits_r.content)) as hdul:
        assert hdul[0].data.shape == (1, 1, 64, 64)
    cut = client.get(
        f"{V1}/images/{iid}/cutout",
        params={"ra_deg": RA0, "dec_deg": DEC0, "size_arcmin": 5, "format": "fits"},
    )
    assert cut.status_code == 200
    with fits.open(io.BytesIO(cut.content)) as hdul:
        data = hdul[0].data
        assert data.shape == (15, 15)
        assert np.nanmax(data) > 0.4  # the 0.5 Jy source at the centre
    png = client.get(
        f"{V1}/images/{iid}/cutout", params={"ra_deg": RA0, "dec_deg": DEC0, "size_arcmin": 5}
    )
    assert png.headers["content-type"] == "image/png"
    outside = client.get(f"{V1}/images/{iid}/cutout", params={"ra_deg": RA0 + 10, "dec_deg": DEC0})
    assert outside.status_code == 400 and "outside the image" in outside.json()["detail"]


def test_sources(client: TestClient, deployment: Deployment) -> None:
    page = client.get(f"{V1}/sources").json()
    assert page["count"] == 3
    assert page["data"][0]["source_id"] == sid(1)  # the most deviant first
    assert set(page["data"][0]) >= {"chi2_nu", "sigma_deviation", "last_measured_at", "n_obs"}
    bright = client.get(f"{V1}/sources", params={"min_flux_mjy": 80}).json()
    assert {s["source_id"] for s in bright["data"]} == {sid(0), sid(1)}
    variable = client.get(f"{V1}/sources", params={"min_chi2_nu": 100}).json()
    assert [s["source_id"] for s in variable["data"]] == [sid(1)]
    cone = client.get(
        f"{V1}/sources", params={"ra_deg": RA0, "dec_deg": DEC0, "radius_deg": 10 / 3600}
    ).json()
    assert [s["source_id"] for s in cone["data"]] == [sid(0)]
    detail = client.get(f"{V1}/sources/{q(sid(1))}").json()
    assert detail["catalog"]["s_nvss"] == 0.1
    assert detail["variability"]["n_obs"] == 6
    assert [c["id"] for c in detail["candidates"]] == [deployment.candidate_ids[0]]
    only_cat = client.get(f"{V1}/sources/{q(sid(3))}").json()
    assert only_cat["variability"] is None and only_cat["catalog"] is not None
    assert client.get(f"{V1}/sources/{q('NVSS J000000.0+000000')}").status_code == 404


def test_light_curve_is_spec_query(client: TestClient, deployment: Deployment) -> None:
    body = client.get(f"{V1}/sources/{q(sid(1))}/lightcurve").json()
    pts = body["points"]
    assert len(pts) == 6
    assert [p["mjd"] for p in pts] == sorted(p["mjd"] for p in pts)
    assert [round(p["flux_mjy"], 6) for p in pts] == [100, 100, 100, 50, 50, 100]
    assert pts[0]["error_mjy"] == 1.0 and pts[0]["field_name"] == "J1000+40"
    assert abs(pts[0]["image_noise_mjy"] - 1.0) < 1e-9
    assert pts[0]["image_id"] == deployment.image_ids[0]
    assert pts[0]["image_path"] == deployment.image_paths[0] and pts[0]["flags"] == 0
    assert pts[0]["raw_flux_mjy"] is None  # the test rows were never normalised
    assert pts[0]["used"] is True and pts[0]["flag_names"] == []
    # The spec's query, column for column.
    dbs = deployment_dbs(deployment)
    with dbs.products.read() as conn:
        spec = [p.model_dump() for p in patterns.flux_timeseries(conn, source_id=sid(1))]
    dbs.dispose()
    assert [{k: p[k] for k in spec[0]} for p in pts] == spec
    assert client.get(f"{V1}/sources/nope/lightcurve").status_code == 404


def test_scatter_and_photometry(client: TestClient, deployment: Deployment) -> None:
    sc = client.get(f"{V1}/sources/variability-scatter").json()
    assert sc["count"] == 3 and not sc["truncated"]
    assert len(sc["source_id"]) == len(sc["eta_metric"]) == len(sc["v_index"]) == 3
    i = sc["source_id"].index(sid(0))
    assert sc["v_index"][i] == 0.0
    ph = client.get(f"{V1}/photometry", params={"source_id": sid(0), "sort": "-mjd"}).json()
    assert ph["count"] == 6 and ph["data"][0]["mjd"] > ph["data"][-1]["mjd"]


def test_catalog(client: TestClient) -> None:
    cat = client.get(f"{V1}/catalog/sources", params={"min_flux_mjy": 60}).json()
    assert cat["count"] == 2 and cat["data"][0]["source_id"] == sid(0)
    cone = client.get(
        f"{V1}/catalog/cone", params={"ra_deg": RA0, "dec_deg": DEC0, "radius_deg": 0.2}
    ).json()
    assert [c["source_id"] for c in cone["data"]] == [sid(0), sid(1), sid(2)]
    assert cone["data"][0]["sep_deg"] < 1e-6


def test_candidates(client: TestClient, deployment: Deployment) -> None:
    page = client.get(f"{V1}/candidates").json()
    assert page["count"] == 2
    first = page["data"][0]
    assert first["id"] == deployment.candidate_ids[0] and first["status"] == "active"
    # The dip: baseline is the weighted mean (0.1 * 4 + 0.05 * 2) / 6 Jy; peak 0.05 Jy.
    assert abs(first["baseline_flux_jy"] - (0.5 / 6)) < 1e-12
    assert first["peak_flux_jy"] == 0.05
    assert first["first_detection_at"] is not None
    assert first["first_detection_at"] < first["last_detection_at"]
    assert first["max_sigma_dev"] > 30
    investigated = client.get(f"{V1}/candidates", params={"status": "investigated"}).json()
    assert [c["id"] for c in investigated["data"]] == [deployment.candidate_ids[1]]
    assert investigated["data"][0]["status"] == "investigated"
    assert investigated["data"][0]["spec_status"] == "resolved"
    # The spec's word is a synonym on input.
    resolved = client.get(f"{V1}/candidates", params={"status": "resolved"}).json()
    assert [c["id"] for c in resolved["data"]] == [deployment.candidate_ids[1]]
    spec = client.get(f"{V1}/candidates/with-sources").json()
    assert spec["count"] == 1 and spec["data"][0]["chi2_nu"] > 100
    assert client.get(f"{V1}/candidates/424242").status_code == 404


def test_mosaics(client: TestClient, deployment: Deployment) -> None:
    page = client.get(f"{V1}/mosaics").json()
    assert page["count"] == 2
    newest = page["data"][0]
    assert newest["id"] == deployment.mosaic_ids[-1]
    assert newest["hours"] == 1.0 and abs(newest["noise_mjy"] - 0.3) < 1e-12
    ranged = client.get(f"{V1}/mosaics", params={"mjd_max": MJD0 + 0.5 / 24}).json()
    assert ranged["count"] == 1
    detail = client.get(f"{V1}/mosaics/{newest['id']}").json()
    assert detail["n_images"] == 12
    thumb = client.get(f"{V1}/mosaics/{newest['id']}/thumbnail.png", params={"max_size": 16})
    assert Image.open(io.BytesIO(thumb.content)).size == (16, 16)
    assert client.get(f"{V1}/mosaics/{newest['id']}/fits").status_code == 200
    assert client.get(f"{V1}/mosaics/77777").status_code == 404


def test_performance(client: TestClient) -> None:
    t0 = 1.764e9
    stages = client.get(
        f"{V1}/performance/stages", params={"since": t0 - 3600, "until": t0 + 7200}
    ).json()
    assert sum(p["n_groups"] for p in stages) == 2
    assert all(p["imaging_time"] == 60.0 for p in stages)
    tp = client.get(
        f"{V1}/performance/throughput",
        params={"since": t0, "until": t0 + 3600, "bin_s": 1800},
    ).json()
    assert [b["arrived"] for b in tp["bins"]] == [6, 6]
    assert sum(b["completed"] for b in tp["bins"]) == 2
    assert sum(b["failed"] for b in tp["bins"]) == 2
    assert tp["arrival_rate_per_hour"] == 12.0
    bad = client.get(f"{V1}/performance/throughput", params={"since": t0, "until": t0 - 1})
    assert bad.status_code == 400


def test_export_whole_result(client: TestClient, deployment: Deployment) -> None:
    r = client.get(f"{V1}/photometry/export", params={"format": "csv", "sort": "id"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == deployment.n_photometry  # not one page
    assert rows[0]["source_id"] == sid(0)
    j = client.get(f"{V1}/groups/export", params={"format": "json", "state": "failed"}).json()
    assert len(j) == 2 and all(g["state"] == "failed" for g in j)
    assert client.get(f"{V1}/groups/export", params={"sort": "nope"}).status_code == 422
    for path in (
        "ms",
        "images",
        "sources",
        "candidates",
        "mosaics",
        "catalog/sources",
        "calibration/tables",
        "performance/metrics",
    ):
        r = client.get(f"{V1}/{path}/export", params={"format": "json"})
        assert r.status_code == 200, path
        assert len(r.json()) == client.get(f"{V1}/{path}").json()["count"], path


def test_exports_name_their_units_and_match_the_dashboard(client: TestClient) -> None:
    """Export fluxes are in the dashboard's mJy (mJy/beam), each column named with its
    unit; no export has a Jy column or a quantity without its unit."""
    src = sid(0)
    phot = client.get(
        f"{V1}/photometry/export", params={"format": "json", "source_id": src, "sort": "mjd"}
    ).json()
    curve = client.get(f"{V1}/sources/{src}/lightcurve").json()["points"]
    assert phot and len(phot) == len(curve)
    for row, point in zip(phot, curve, strict=True):
        assert "peak_jyb" not in row and "raw_peak_jyb" not in row
        assert row["peak_mjyb"] == pytest.approx(point["flux_mjy"])
        assert row["peak_err_mjyb"] == pytest.approx(point["error_mjy"])
        assert row["raw_peak_mjyb"] == pytest.approx(point["raw_flux_mjy"])
    csv_head = client.get(f"{V1}/photometry/export", params={"format": "csv"}).text.split("\n")[0]
    assert "peak_mjyb" in csv_head.split(",") and "peak_jyb" not in csv_head.split(",")

    images = client.get(f"{V1}/images", params={"sort": "id", "page_size": 500}).json()["data"]
    exported = client.get(f"{V1}/images/export", params={"format": "json", "sort": "id"}).json()
    for api_row, row in zip(images, exported, strict=True):
        if api_row["noise_jy"] is not None:
            assert row["noise_mjyb"] == pytest.approx(api_row["noise_jy"] * 1000)
    cat = client.get(f"{V1}/catalog/sources/export", params={"format": "json"}).json()
    api_cat = client.get(f"{V1}/catalog/sources", params={"page_size": 500}).json()["data"]
    by_id = {r["source_id"]: r for r in api_cat}
    for row in cat:
        if row["s_nvss_mjy"] is not None:
            assert row["s_nvss_mjy"] == pytest.approx(by_id[row["source_id"]]["s_nvss"] * 1000)

    for path in ("ms", "images", "photometry", "sources", "candidates", "mosaics",
                 "catalog/sources", "calibration/tables", "performance/metrics"):  # fmt: skip
        head = client.get(f"{V1}/{path}/export", params={"format": "csv"}).text.split("\n")[0]
        columns = head.split(",")
        assert not [c for c in columns if c.endswith(("_jy", "_jyb"))], (path, columns)
        assert not {"s_nvss", "s_vlass", "noise_mjy", "total_time"} & set(columns), path


def test_ingest_file_log(client: TestClient) -> None:
    page = client.get(f"{V1}/ingest/files").json()
    assert page["count"] == 2
    rejected = client.get(f"{V1}/ingest/files", params={"status": "rejected"}).json()
    assert [f["reason"] for f in rejected["data"]] == ["bad header"]


def test_candidates_one_row_per_source(
    client: TestClient, deployment: Deployment, dbs: Databases
) -> None:
    """A source flagged twice (variability and rapid_change) is one row holding both
    flags, their significances and statuses; detection times are filled for every
    flag from the light curve (issue 19)."""
    from contimg.db.queries import ese as eq

    with dbs.products.write() as conn:
        rapid = eq.insert_candidate(
            conn, source_id=sid(1), flag_type="rapid_change", significance=12.5, now=1.7e9,
            flagged_by="auto", notes=None,
        )  # fmt: skip
    page = client.get(f"{V1}/candidates/by-source", params={"status": "any"}).json()
    assert page.get("detail") is not None  # 'any' is no status word: a clear 422
    page = client.get(f"{V1}/candidates/by-source").json()
    assert page["count"] == 2 and [r["source_id"] for r in page["data"]] == [sid(1), sid(2)]
    top = page["data"][0]
    assert [(f["flag_type"], f["significance"]) for f in top["flags"]] == [
        ("variability", 33.3),
        ("rapid_change", 12.5),
    ]
    assert top["significance"] == 33.3 and top["status"] == "active"
    assert {f["id"] for f in top["flags"]} == {deployment.candidate_ids[0], rapid}
    for row in page["data"]:
        assert row["first_detection_at"] and row["last_detection_at"], row
        for f in row["flags"]:
            assert f["first_detection_at"] and f["last_detection_at"], f
    # Sorted by another key, filtered by status / flag type.
    by_name = client.get(f"{V1}/candidates/by-source", params={"sort": "-source_id"}).json()
    assert [r["source_id"] for r in by_name["data"]] == [sid(2), sid(1)]
    active = client.get(f"{V1}/candidates/by-source", params={"status": "active"}).json()
    assert [r["source_id"] for r in active["data"]] == [sid(1)]
    fast = client.get(f"{V1}/candidates/by-source", params={"flag_type": "rapid_change"}).json()
    assert [len(r["flags"]) for r in fast["data"]] == [1]


def test_light_curve_points_say_whether_the_statistics_use_them() -> None:
    base = {"mjd": 60000.0, "flux_mjy": 10.0, "error_mjy": 1.0, "snr": 10.0, "field_name": None,
            "image_noise_mjy": 1.0, "image_id": 1, "image_path": "/x.fits", "raw_flux_mjy": None,
            "raw_error_mjy": None}  # fmt: skip
    blended = LightCurvePointOut(**base, flags=int(PhotFlag.BLENDED)).model_dump()
    assert blended["used"] is True and blended["flag_names"] == ["BLENDED"]
    confused = LightCurvePointOut(
        **base, flags=int(PhotFlag.BLENDED | PhotFlag.CONFUSED)
    ).model_dump()
    assert confused["used"] is False and confused["flag_names"] == ["BLENDED", "CONFUSED"]
    no_error = LightCurvePointOut(**{**base, "error_mjy": None}, flags=0).model_dump()
    assert no_error["used"] is False
