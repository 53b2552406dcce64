"""Calibrator list, transits, set names, validity windows and the lookup rule."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from contimg.calibration.calibrators import find_calibrator, find_transits, load_calibrators
from contimg.calibration.pointing import field_name, lst_deg, meridian_pointing_icrs
from contimg.calibration.registry import choose_set, set_name_for, validity_window
from contimg.config import CalibrationSettings
from contimg.db.queries.calibration import CaltableRow
from contimg.errors import ContimgError

GROUP_DAYS = 24 * 12.884902 / 86400.0


def test_shipped_list_has_the_standard_calibrators() -> None:
    cals = load_calibrators()
    names = {c.name for c in cals}
    assert {"3C48", "3C138", "3C147", "3C196", "3C286", "3C295"} <= names
    c286 = find_calibrator(cals, "3c 286")
    assert c286.ra_deg == pytest.approx(202.7845, abs=1e-3)
    assert c286.dec_deg == pytest.approx(30.5092, abs=1e-3)
    assert 10 < c286.flux_jy < 20
    assert c286.flux_at(1.5e9) < c286.flux_jy  # steep spectrum


def test_bad_calibrator_csv_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "cals.csv"
    bad.write_text("name,ra_deg,dec_deg\nX,1,2\n")
    with pytest.raises(ContimgError, match=r"cals\.csv.*flux_jy"):
        load_calibrators(bad)
    bad.write_text("name,ra_deg,dec_deg,flux_jy\nX,1,north,3\n")
    with pytest.raises(ContimgError, match=r"cals\.csv: data line 2"):
        load_calibrators(bad)
    with pytest.raises(ContimgError, match="cannot read"):
        load_calibrators(tmp_path / "missing.csv")


def _transit_mjd(ra_deg: float, dec_deg: float, near_mjd: float) -> float:
    """Time near ``near_mjd`` when the meridian pointing's ICRS RA equals ``ra_deg``."""
    t = near_mjd
    for _ in range(6):
        pra, _ = meridian_pointing_icrs(t, dec_deg)
        d = ((ra_deg - pra + 180.0) % 360.0) - 180.0
        t += d / 360.98564736629
    return t


def test_exactly_one_group_holds_a_transit() -> None:
    cals = load_calibrators()
    c = find_calibrator(cals, "3C286")
    settings = CalibrationSettings()
    t0 = _transit_mjd(c.ra_deg, c.dec_deg, 60950.5)
    hits = []
    for k in range(-2, 3):
        start = t0 - 0.4 * GROUP_DAYS + k * GROUP_DAYS
        tr = find_transits(
            cals, start_mjd=start, end_mjd=start + GROUP_DAYS, dec_deg=c.dec_deg, settings=settings
        )
        hits.append([t.name for t in tr])
    assert hits == [[], [], ["3C286"], [], []]
    start = t0 - 0.4 * GROUP_DAYS
    (tr,) = find_transits(
        cals, start_mjd=start, end_mjd=start + GROUP_DAYS, dec_deg=c.dec_deg, settings=settings
    )
    rec = tr.to_json()
    assert set(rec) == {"name", "ra_deg", "dec_deg", "flux_jy", "sep_deg", "min_sep_deg"}
    assert rec["min_sep_deg"] <= rec["sep_deg"] < 1.0


def test_pointing_far_in_dec_has_no_transit() -> None:
    cals = load_calibrators()
    c = find_calibrator(cals, "3C286")
    t0 = _transit_mjd(c.ra_deg, c.dec_deg + 3.0, 60950.5)
    tr = find_transits(
        cals,
        start_mjd=t0 - GROUP_DAYS / 2,
        end_mjd=t0 + GROUP_DAYS / 2,
        dec_deg=c.dec_deg + 3.0,
        settings=CalibrationSettings(),
    )
    assert tr == []


def test_pointing_and_names() -> None:
    mjd = 60950.0
    ra, dec = meridian_pointing_icrs(mjd, 54.57)
    # RA within a degree of the LST (precession since J2000), Dec close to the setting.
    assert abs(((ra - lst_deg(mjd) + 180) % 360) - 180) < 1.0
    assert abs(dec - 54.57) < 0.5
    assert field_name(188.6, 42.3) == "J1234+42"
    assert field_name(359.999, -5.2) == "J0000-05"


def test_set_name_rule() -> None:
    # MJD 60238.5625 is 13:30 UTC on that day.
    assert set_name_for("3C 286", 60238.5625) == "3c286_60238_1330"
    assert set_name_for("J1800+7828", 60238.0) == "j18007828_60238_0000"


def test_validity_windows_per_type() -> None:
    s = CalibrationSettings(k_validity_h=24, bp_validity_h=48, g_validity_h=6)
    assert validity_window("K", 100.0, s) == (99.5, 100.5)
    assert validity_window("BP", 100.0, s) == (99.0, 101.0)
    assert validity_window("G", 100.0, s) == pytest.approx((99.875, 100.125))


def _set(name: str, start: float, end: float, created: float, active: int = 1) -> list[CaltableRow]:
    return [
        CaltableRow(
            id=i + 1,
            set_name=name,
            path=f"/cal/{name}/{kind}.h5",
            table_type=kind,
            order_index=i,
            valid_start_mjd=start,
            valid_end_mjd=end,
            created_at=created,
            active=active,
        )
        for i, kind in enumerate(("K", "BP", "G"))
    ]


def test_lookup_covering_latest_created_wins() -> None:
    rows = _set("a", 99.0, 101.0, created=1.0) + _set("b", 99.5, 100.5, created=2.0)
    chosen = choose_set(rows, mjd=100.0, extrapolate_max_h=12)
    assert chosen is not None and chosen.set_name == "b" and not chosen.extrapolated
    assert [t.table_type for t in chosen.tables] == ["K", "BP", "G"]


def test_lookup_ignores_inactive_and_uses_intersection_of_windows() -> None:
    rows = _set("a", 99.0, 101.0, created=1.0) + _set("b", 99.5, 100.5, created=2.0, active=0)
    chosen = choose_set(rows, mjd=100.0, extrapolate_max_h=12)
    assert chosen is not None and chosen.set_name == "a"
    # One table's window ends early: the set no longer covers t.
    rows = _set("a", 99.0, 101.0, created=1.0)
    rows[2] = dataclasses.replace(rows[2], valid_end_mjd=99.9)
    chosen = choose_set(rows, mjd=100.0, extrapolate_max_h=24)
    assert chosen is not None and chosen.extrapolated
    assert chosen.window == (99.0, 99.9)


def test_lookup_extrapolates_to_nearest_midpoint_within_limit() -> None:
    rows = _set("early", 99.5, 99.8, created=5.0) + _set("late", 100.4, 100.5, created=1.0)
    chosen = choose_set(rows, mjd=100.2, extrapolate_max_h=12)
    assert chosen is not None and chosen.set_name == "late" and chosen.extrapolated
    assert chosen.distance_h == pytest.approx(0.25 * 24)
    assert choose_set(rows, mjd=100.2, extrapolate_max_h=5) is None
    assert choose_set([], mjd=100.0, extrapolate_max_h=12) is None


def test_ingest_hook_matcher_stores_full_records() -> None:
    """The matcher installed for ingest returns name, position, flux and separation."""
    from contimg.calibration.matcher import match_pending
    from contimg.ingest.hooks import PendingGroup

    c = find_calibrator(load_calibrators(), "3C286")
    start = _transit_mjd(c.ra_deg, c.dec_deg, 60950.5) - 0.4 * GROUP_DAYS
    group = PendingGroup(
        group_id="2025-10-02T00:12:00",
        subband_paths={},
        start_jd=start + 2400000.5,
        end_jd=start + GROUP_DAYS + 2400000.5,
        dec_deg=c.dec_deg,
    )
    (rec,) = match_pending(group) or [None]
    assert rec is not None and rec["name"] == "3C286"
    assert set(rec) == {"name", "ra_deg", "dec_deg", "flux_jy", "sep_deg", "min_sep_deg"}
    unknown = PendingGroup(
        group_id="x", subband_paths={}, start_jd=None, end_jd=None, dec_deg=c.dec_deg
    )
    assert match_pending(unknown) is None


# -- every DSA-110 pointing has a calibrator; the lookup matches the pointing ----------


@pytest.mark.parametrize("dec", [16.3, 50.5, 54.57, 65.7])
def test_shipped_list_covers_every_dsa110_pointing(dec: float) -> None:
    from contimg.calibration.calibrators import pointing_calibrators

    here = pointing_calibrators(load_calibrators(), dec_deg=dec, settings=CalibrationSettings())
    assert here, f"no calibrator transits Dec {dec}"
    best = here[0]
    assert best.sep_deg <= 1.5 and best.apparent_flux_jy >= 1.0


def test_a_transit_at_dec_54_57_is_found_in_one_group() -> None:
    """The pointing of most real data: J0834+5534 (1.0 deg north) transits it once a day."""
    from contimg.calibration.calibrators import next_transit_mjd

    cals = load_calibrators()
    c = find_calibrator(cals, "J0834+5534")
    t0 = next_transit_mjd(c, after_mjd=60950.0, dec_deg=54.57)
    assert 60950.0 < t0 < 60951.0
    hits = []
    for k in range(-2, 3):
        start = t0 - 0.4 * GROUP_DAYS + k * GROUP_DAYS
        tr = find_transits(
            cals, start_mjd=start, end_mjd=start + GROUP_DAYS, dec_deg=54.57,
            settings=CalibrationSettings(),
        )  # fmt: skip
        hits.append([t.name for t in tr])
    assert hits == [[], [], ["J0834+5534"], [], []]
    # The apparent flux decides: the same source 1.0 deg away but only 1.2 Jy is too weak.
    weak = [c.__class__(c.name, c.ra_deg, c.dec_deg, 1.2)]
    start = t0 - 0.4 * GROUP_DAYS
    assert (
        find_transits(
            weak,
            start_mjd=start,
            end_mjd=start + GROUP_DAYS,
            dec_deg=54.57,
            settings=CalibrationSettings(),
        )
        == []
    )


def test_pointing_without_calibrator_is_known_at_once() -> None:
    from contimg.calibration.calibrators import nearest_calibrator, pointing_calibrators

    cals = load_calibrators()
    assert pointing_calibrators(cals, dec_deg=58.5, settings=CalibrationSettings()) == []
    near = nearest_calibrator(cals, dec_deg=58.5)
    assert near is not None and near[1] > 1.5


def test_lookup_matches_the_pointing() -> None:
    rows = _set("dec16", 99.5, 100.5, 1.0) + _set("dec65", 99.7, 100.3, 0.5)
    decs = {"dec16": 16.3, "dec65": 65.7}
    at16 = choose_set(rows, mjd=100.0, extrapolate_max_h=12, dec_deg=16.31, set_decs=decs)
    at65 = choose_set(rows, mjd=100.0, extrapolate_max_h=12, dec_deg=65.69, set_decs=decs)
    assert at16 is not None and at16.set_name == "dec16"
    assert at65 is not None and at65.set_name == "dec65"
    # A pointing with no set of its own gets none, however close in time the others are.
    assert choose_set(rows, mjd=100.0, extrapolate_max_h=12, dec_deg=54.57, set_decs=decs) is None
    # A set without a recorded pointing (older registries) is usable anywhere.
    legacy = choose_set(rows, mjd=100.0, extrapolate_max_h=12, dec_deg=54.57, set_decs={})
    assert legacy is not None and legacy.set_name == "dec16"
