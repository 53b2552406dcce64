"""Automatic mosaics: LST windows built once all their images exist, never twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.products import mosaic_windows, mosaics
from contimg.db.queries import mosaics as q
from contimg.mosaic.scheduler import lst_hours, plan_windows, run_once, window_of
from tests.factories import mosaic as synth

START = window_of(61000.0, window_s=86_400.0)[1]
"""2025-11-21T03:51:29 UTC, when the mean LST at DSA-110 is 0 h: an LST-hour boundary."""
HOUR_D = 1.0 / 24.0
LST_HOUR_D = 3600.0 / 86_400.0 * 360.0 / 360.98564736629  # one hour of LST in UTC days
NOW = 1.8e9
W0 = "2025-11-21T03:51:29/LST00:00:00+3600s/dec+54.6"
W1 = "2025-11-21T04:51:19/LST01:00:00+3600s/dec+54.6"
TINY = synth.SynthConfig(
    n_px=48, cell_arcsec=360.0, beam_major_arcsec=1800.0, beam_minor_arcsec=1200.0
)


def _groups(root: Path, *, start_mjd: float, n: int, seed: int, dec: float = 54.57) -> list:
    cfg = synth.SynthConfig(**{**TINY.__dict__, "dec_deg": dec})
    return synth.drift_groups(
        root, start_mjd=start_mjd, n_groups=n, ra0_deg=30.0, sources=[], seed=seed, cfg=cfg
    )


def _record(dbs: Databases, groups: list, *, state: str = "completed") -> None:
    with dbs.products.write() as conn:
        synth.record_groups(conn, groups)
    with dbs.ingest.write() as conn:
        synth.record_queue(conn, groups, state=state, received_at=NOW - 60)


def _mosaic_rows(dbs: Databases) -> list[dict]:
    with dbs.products.read() as conn:
        return [dict(r._mapping) for r in conn.execute(mosaics.select().order_by(mosaics.c.id))]


def test_start_is_an_lst_hour() -> None:
    assert synth.group_id_at(START) == "2025-11-21T03:51:29"
    assert min(lst_hours(START), 24.0 - lst_hours(START)) == pytest.approx(0.0, abs=1e-6)
    assert window_of(START, window_s=3600.0)[0] == pytest.approx(START, abs=1e-9)


def test_plan_windows_by_lst_hour_and_pointing() -> None:
    epochs = [(START + 0.01, 54.57), (START + 0.02, 54.57), (START + 0.05, 54.57)]
    epochs += [(START + 0.03, 16.3)]
    windows = plan_windows(epochs, window_s=3600.0, dec_tolerance_deg=0.5)
    assert [(w.key, w.n_images) for w in windows] == [
        ("2025-11-21T03:51:29/LST00:00:00+3600s/dec+16.3", 1),
        ("2025-11-21T03:51:29/LST00:00:00+3600s/dec+54.6", 2),
        ("2025-11-21T04:51:19/LST01:00:00+3600s/dec+54.6", 1),
    ]
    assert windows[1].start_mjd == pytest.approx(START)
    assert windows[1].end_mjd == pytest.approx(START + LST_HOUR_D)
    assert windows[1].dec_min_deg < 54.57 < windows[1].dec_max_deg
    assert windows[1].name == "2025-11-21T03:51:29_LST0000_1h_dec+54.6"


def test_windows_restart_every_sidereal_day() -> None:
    """The same LST falls in the same window every sidereal day (~3 min 56 s earlier
    in UTC each day), and a day's last window stops at the next day's origin."""
    sidereal_day_d = 86_164.0905 / 86_400.0
    origin_h = 5.5
    first = window_of(START + 0.3, window_s=1000.0, lst_origin_h=origin_h)
    for day in range(1, 8):
        start, end = window_of(
            START + 0.3 + day * sidereal_day_d, window_s=1000.0, lst_origin_h=origin_h
        )
        assert start == pytest.approx(first[0] + day * sidereal_day_d, abs=1e-8)
        assert end == pytest.approx(first[1] + day * sidereal_day_d, abs=1e-8)
    day_start, _ = window_of(START + 0.3, window_s=86_400.0, lst_origin_h=origin_h)
    assert lst_hours(day_start) == pytest.approx(origin_h, abs=1e-6)
    last = window_of(day_start - 1e-6, window_s=1000.0, lst_origin_h=origin_h)
    assert last[1] == pytest.approx(day_start, abs=1e-9)  # 86,400 = 86 x 1000 + 400
    assert (last[1] - last[0]) * 86_400.0 == pytest.approx(400.0 * 360 / 360.98564736629)


def test_hourly_windows_built_once_when_complete(
    dbs: Databases, settings: Settings, tmp_path: Path
) -> None:
    # Hour 0 complete (12 groups) and the first 3 groups of hour 1.
    hour0 = _groups(tmp_path / "a", start_mjd=START, n=12, seed=1)
    hour1 = _groups(tmp_path / "b", start_mjd=START + 12 * synth.GROUP_S / 86400, n=3, seed=2)
    _record(dbs, hour0 + hour1)

    report = run_once(settings, dbs, scheduler_id="s1", now=NOW)
    assert [k for k, _ in report.built] == [W0]
    assert [k for k, _ in report.waiting] == [W1]
    rows = _mosaic_rows(dbs)
    assert len(rows) == 1 and rows[0]["n_images"] == 12
    assert rows[0]["name"] == "2025-11-21T03:51:29_LST0000_1h_dec+54.6"
    assert all(v is not None for v in rows[0].values())

    # A second pass (and a second scheduler) builds nothing again.
    assert run_once(settings, dbs, scheduler_id="s1", now=NOW + 10).built == []
    assert run_once(settings, dbs, scheduler_id="s2", now=NOW + 20).built == []
    assert len(_mosaic_rows(dbs)) == 1

    # Hour 1 completes and data move on: it is built, hour 0 is not rebuilt.
    rest = _groups(tmp_path / "c", start_mjd=START + 15 * synth.GROUP_S / 86400, n=10, seed=3)
    _record(dbs, rest)
    report = run_once(settings, dbs, scheduler_id="s2", now=NOW + 30)
    assert [k for k, _ in report.built] == [W1]
    rows = _mosaic_rows(dbs)
    assert [r["n_images"] for r in rows] == [12, 11]  # 11.6 groups an hour of LST
    with dbs.products.read() as conn:
        rows_w = conn.execute(mosaic_windows.select()).all()
    states = {r.window_key: (r.state, r.attempts) for r in rows_w}
    assert states[W0] == ("done", 1)
    assert states[W1] == ("done", 1)


def test_window_waits_for_groups_still_processing(
    dbs: Databases, settings: Settings, tmp_path: Path
) -> None:
    hour0 = _groups(tmp_path / "a", start_mjd=START, n=12, seed=1)
    later = _groups(tmp_path / "b", start_mjd=START + 13 * synth.GROUP_S / 86400, n=1, seed=2)
    _record(dbs, hour0[:11] + later)
    # The 12th group of hour 0 has arrived but is still being imaged.
    with dbs.ingest.write() as conn:
        synth.record_queue(conn, hour0[11:], state="in_progress", received_at=NOW - 60)
    report = run_once(settings, dbs, scheduler_id="s1", now=NOW)
    assert report.built == []
    assert report.waiting[0][0] == W0
    assert "1 group(s) still processing" in report.waiting[0][1]

    with dbs.ingest.write() as conn:
        conn.execute(
            synth.ingest_queue.update()
            .where(synth.ingest_queue.c.group_id == hour0[11].group_id)
            .values(state="completed")
        )
    with dbs.products.write() as conn:
        synth.record_groups(conn, hour0[11:])
    report = run_once(settings, dbs, scheduler_id="s1", now=NOW + 5)
    assert [k for k, _ in report.built] == [W0]
    assert _mosaic_rows(dbs)[0]["n_images"] == 12


def test_last_window_closes_when_data_stop(
    dbs: Databases, settings: Settings, tmp_path: Path
) -> None:
    import os

    groups = _groups(tmp_path / "a", start_mjd=START, n=5, seed=1)
    _record(dbs, groups)
    # A temporary file left by a build killed mid-write long ago is cleaned up.
    leftover = settings.products_path / "mosaics" / ".old.fits.tmp-123"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"partial")
    os.utime(leftover, (NOW - 2 * settings.mosaic.lease_s,) * 2)
    assert run_once(settings, dbs, scheduler_id="s1", now=NOW).built == []
    assert not leftover.exists()
    idle_now = NOW + settings.mosaic.idle_close_s
    report = run_once(settings, dbs, scheduler_id="s1", now=idle_now)
    assert len(report.built) == 1
    assert _mosaic_rows(dbs)[0]["n_images"] == 5


def test_failed_build_is_recorded_and_retried_then_given_up(
    dbs: Databases, settings: Settings, tmp_path: Path
) -> None:
    groups = _groups(tmp_path / "a", start_mjd=START, n=3, seed=1)
    _record(dbs, groups)
    groups[1].image_path.unlink()  # a lost input file
    idle_now = NOW + settings.mosaic.idle_close_s
    for attempt in range(1, settings.mosaic.max_attempts + 1):
        report = run_once(settings, dbs, scheduler_id="s1", now=idle_now + attempt)
        assert len(report.failed) == 1, attempt
        assert str(groups[1].image_path) in report.failed[0][1]
    assert run_once(settings, dbs, scheduler_id="s1", now=idle_now + 99).failed == []
    with dbs.products.read() as conn:
        (row,) = q.list_windows(conn)
    assert row.state == "failed" and row.attempts == settings.mosaic.max_attempts
    assert row.error_message is not None and "does not exist" in row.error_message
    assert _mosaic_rows(dbs) == []


def test_claims_are_exclusive_and_stale_claims_expire(dbs: Databases) -> None:
    args = dict(window_key="w", start_mjd=START, end_mjd=START + HOUR_D, dec_min_deg=54.0)
    with dbs.products.write() as conn:
        assert q.claim_window(conn, **args, dec_max_deg=55.0, claimed_by="a", now=NOW)
    with dbs.products.write() as conn:
        assert not q.claim_window(conn, **args, dec_max_deg=55.0, claimed_by="b", now=NOW)
    with dbs.products.write() as conn:  # a fresh claim is not taken over
        assert not q.reclaim_window(
            conn, window_key="w", claimed_by="b", now=NOW, stale_before=NOW - 10, max_attempts=3
        )
    with dbs.products.write() as conn:  # a stale one is
        assert q.reclaim_window(
            conn, window_key="w", claimed_by="b", now=NOW, stale_before=NOW + 1, max_attempts=3
        )
    with dbs.products.write() as conn:
        assert not q.finish_window(conn, window_key="w", claimed_by="a", state="done", now=NOW)
        assert q.finish_window(
            conn, window_key="w", claimed_by="b", state="done", now=NOW, mosaic_path="/m.fits"
        )
    with dbs.products.read() as conn:
        (row,) = q.list_windows(conn)
    assert (row.state, row.attempts, row.claimed_by) == ("done", 2, "b")


def test_run_forever_builds_then_stops_cleanly(
    dbs: Databases, settings: Settings, tmp_path: Path
) -> None:
    import threading
    import time

    from contimg.mosaic.scheduler import run_forever

    fast = settings.model_copy(
        update={"mosaic": settings.mosaic.model_copy(update={"poll_interval_s": 0.05})}
    )
    groups = _groups(tmp_path / "a", start_mjd=START, n=13, seed=1)
    _record(dbs, groups)
    stop = threading.Event()
    lines: list[str] = []
    thread = threading.Thread(
        target=run_forever,
        kwargs={"settings": fast, "dbs": dbs, "scheduler_id": "loop", "stop": stop,
                "progress": lines.append},
    )  # fmt: skip
    thread.start()
    deadline = time.monotonic() + 120
    while not _mosaic_rows(dbs) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(_mosaic_rows(dbs)) == 1
    assert any(line.startswith("building window") for line in lines)


def test_demo_schedule_one_mosaic_per_strip_per_day(
    dbs: Databases, settings: Settings, tmp_path: Path
) -> None:
    """The demo's 6 sidereal days (a calibrator group, then 3 science groups 8 groups
    later, each day ~3 min 56 s earlier in UTC): every day's science strip is one
    mosaic of its 3 images, built as soon as the strip's last group is in, without
    waiting for the idle close; each day's calibrator group is a mosaic of its own."""
    from contimg.demo import DemoOptions, plan

    opts = DemoOptions()
    window_s, origin_h = opts.mosaic_window()
    env = opts.env()
    assert float(env["CONTIMG_MOSAIC__WINDOW_S"]) == pytest.approx(window_s, abs=1e-3)
    cfg = settings.model_copy(
        update={
            "mosaic": settings.mosaic.model_copy(
                update={
                    "window_s": float(env["CONTIMG_MOSAIC__WINDOW_S"]),
                    "lst_origin_h": float(env["CONTIMG_MOSAIC__LST_ORIGIN_H"]),
                    "idle_close_s": float(env["CONTIMG_MOSAIC__IDLE_CLOSE_S"]),
                }
            )
        }
    )
    plans = plan(opts)
    per_day = len(opts.select)
    assert opts.days == 6 and len(plans) == 6 * per_day == 24
    # Each day's strip starts ~236 s earlier in UTC: fixed UTC windows drift across it.
    science = [p for p in plans if p.index % per_day]
    shifts = [(science[3 * d].start_mjd - science[3 * d - 3].start_mjd) for d in range(1, 6)]
    assert [round((s - 1.0) * 86_400) for s in shifts] == pytest.approx([-236] * 5, abs=5)

    built: list[list[str]] = []
    for day in range(opts.days):
        groups = []
        for p in plans[day * per_day : (day + 1) * per_day]:
            k = opts.select[p.index % per_day]
            groups += synth.drift_groups(
                tmp_path / f"d{day}", start_mjd=p.start_mjd, n_groups=1,
                ra0_deg=synth.pointing_ra(30.0, k), sources=[], seed=p.index,
                cfg=TINY,
            )  # fmt: skip
        with dbs.products.write() as conn:
            synth.record_groups(conn, groups)
        with dbs.ingest.write() as conn:
            synth.record_queue(conn, groups, state="completed", received_at=NOW + day)
        report = run_once(cfg, dbs, scheduler_id="s", now=NOW + day + 1)  # not idle
        assert report.failed == []
        built.append([key for key, _ in report.built])
    assert [len(b) for b in built] == [2] * 6  # calibrator window, science window
    rows = _mosaic_rows(dbs)
    assert sorted(r["n_images"] for r in rows) == [1] * 6 + [3] * 6
    strips = [r for r in rows if r["n_images"] == 3]
    lst = {r["name"].split("_")[1] for r in strips}
    assert len(lst) == 1, lst  # the same LST window every day
    assert lst == {f"LST{int(origin_h):02d}{int(origin_h % 1 * 60):02d}"}
    for day, row in enumerate(strips):
        first = plans[day * per_day + 1]
        assert row["start_mjd"] == pytest.approx(first.start_mjd, abs=1 / 86_400)
