"""Simulated UVH5 groups: names, timing, headers, physics, truth and bad input."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from pyuvdata import UVData

from contimg.errors import ContimgError
from contimg.science.beams import primary_beam_at
from contimg.sim import observe
from contimg.sim.astro import icrs_of_pointing, mjd_from_iso
from contimg.sim.instrument import InstrumentModel
from contimg.sim.observe import plan_groups, plan_run, run_groups, simulate_groups
from contimg.sim.sky import Component, Sky, SkySource
from contimg.telescope import DSA110
from tests.sim.conftest import DEC, START, SimRun

NAME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)_sb(\d\d)\.hdf5$")
STATIONS = Path("/work/shared/data/DSA110_Station_Coordinates.csv")


def _read(path: Path) -> UVData:
    return UVData.from_file(str(path), file_type="uvh5")


def _ts(s: str) -> float:
    return datetime.fromisoformat(s).timestamp()


def test_files_names_and_group_ids(ci_run: SimRun) -> None:
    names = sorted(p.name for p in ci_run.out_dir.iterdir() if p.is_file())
    assert len(names) == 32 and all(NAME.match(n) for n in names)
    for truth in ci_run.truths:
        files = truth["files"]
        assert [NAME.match(f).group(2) for f in files] == [f"{i:02d}" for i in range(16)]  # type: ignore[union-attr]
        stamps = [_ts(NAME.match(f).group(1)) for f in files]  # type: ignore[union-attr]
        assert truth["group_id"] == NAME.match(files[0]).group(1)  # type: ignore[union-attr]
        assert max(stamps) - min(stamps) <= 2 * observe.JITTER_S + 1
        assert len(set(stamps)) > 1  # the timestamps do jitter
    starts = [t["start_mjd"] for t in ci_run.truths]
    assert (starts[1] - starts[0]) * 86400 == pytest.approx(DSA110.group_duration_s, abs=1e-3)
    assert [g["group_id"] for g in ci_run.run["groups"]] == [t["group_id"] for t in ci_run.truths]


def test_headers_frequencies_and_timing(ci_run: SimRun) -> None:
    truth = ci_run.truths[0]
    uvs = [_read(ci_run.out_dir / f) for f in truth["files"][:2]] + [
        _read(ci_run.out_dir / truth["files"][15])
    ]
    sb00, sb01, sb15 = uvs
    assert sb00.freq_array.min() > sb01.freq_array.max() > sb15.freq_array.max()
    assert np.all(np.diff(sb00.freq_array) > 0)
    assert sb00.freq_array.max() < DSA110.band_high_hz < sb00.freq_array.max() + 2e6
    for uv in uvs:
        assert uv.Ntimes == 24 and uv.Nfreqs == 4 and uv.Npols == 4
        assert list(uv.polarization_array) == [-5, -7, -8, -6]  # XX XY YX YY
        assert uv.Nants_data == 24
        assert np.allclose(uv.integration_time, 12.884902)
        assert np.allclose(np.diff(np.unique(uv.time_array)) * 86400, 12.884902, atol=1e-3)
        assert uv.extra_keywords["phase_center_dec"] == pytest.approx(np.radians(DEC))
        assert uv.phase_center_catalog[0]["cat_type"] == "unprojected"
    # Drift scan: the zenith phase centre's apparent RA is the LST of each integration.
    assert np.allclose(sb00.phase_center_app_ra, sb00.lst_array)
    # No temporary file is left behind.
    assert not [p for p in ci_run.out_dir.iterdir() if p.name.startswith(".")]


def test_truth_per_group(ci_run: SimRun) -> None:
    t0, t1 = ci_run.truths
    assert t1["pointing_ra_deg"] - t0["pointing_ra_deg"] == pytest.approx(
        DSA110.group_duration_s / 86164.0905 * 360, rel=0.01
    )
    ids = {s["source_id"] for s in t0["sources"]}
    assert ids and all(i.startswith("NVSS J") for i in ids)
    s = t0["sources"][0]
    assert set(s) >= {"source_id", "flux_1400_mjy", "variability_factor", "sep_deg"}
    inst = InstrumentModel.from_dict(ci_run.run["instrument"])
    g = inst.gains(t0["mid_mjd"])[0]
    assert np.allclose(np.abs(g), t0["gains_mid"]["amp"], atol=1e-5)
    # Gains drift slowly: a few degrees between consecutive groups at most.
    g1 = inst.gains(t1["mid_mjd"])[0]
    dphi = np.degrees(np.abs(np.angle(g1 / g)))
    assert 0 < dphi.max() < 5


def _one_source_sky(start: float, d_ra: float, d_dec: float, maj: float = 0.0) -> Sky:
    pra, pdec = icrs_of_pointing(start + 155 / 86400, DEC)
    ra, dec = pra + d_ra, pdec + d_dec
    src = SkySource(
        "NVSS J000000.0+000000",
        ra,
        dec,
        1000.0,
        -0.7,
        [Component(ra, dec, 1.0, maj, maj / 2, 30.0)],
    )
    return Sky(pra, pdec, 3, 0, start, 1, [src])


def test_point_source_amplitude_and_phase(tmp_path: Path) -> None:
    """Phased to the source, the data are S(nu) x Airy beam, real: the sign convention."""
    start = mjd_from_iso(START)
    sky = _one_source_sky(start, 0.8, -0.5)
    src = sky.sources[0]
    (truth,) = simulate_groups(
        out_dir=tmp_path, sky=sky, start_mjd=start, n_groups=1, dec_deg=DEC,
        corrupt=False, noise=False,
    )  # fmt: skip
    uv = _read(tmp_path / truth["files"][3])
    uv.phase(ra=np.radians(src.ra_deg), dec=np.radians(src.dec_deg), cat_name="src")
    data = uv.get_data(0, 17, "xx")  # (24, n_chan)
    for it in (0, 11, 23):
        point = icrs_of_pointing(truth["times_mjd"][it], DEC)
        for ic, f in enumerate(uv.freq_array):
            a = primary_beam_at(
                src.ra_deg, src.dec_deg, pointing_ra_deg=point[0], pointing_dec_deg=point[1],
                freq_hz=f, dish_diameter_m=4.65,
            )  # fmt: skip
            expect = float(a) * (f / 1.4e9) ** -0.7
            assert data[it, ic] == pytest.approx(expect, rel=2e-3, abs=2e-4)
    assert np.allclose(uv.get_data(0, 17, "xy"), 0)


def test_gaussian_source_is_tapered(tmp_path: Path) -> None:
    start = mjd_from_iso(START)
    sky = _one_source_sky(start, 0.0, 0.0, maj=30.0)
    src = sky.sources[0]
    (truth,) = simulate_groups(
        out_dir=tmp_path, sky=sky, start_mjd=start, n_groups=1, dec_deg=DEC,
        corrupt=False, noise=False,
    )  # fmt: skip
    uv = _read(tmp_path / truth["files"][0])
    uv.phase(ra=np.radians(src.ra_deg), dec=np.radians(src.dec_deg), cat_name="src")
    cross = uv.ant_1_array != uv.ant_2_array
    amp = np.abs(uv.data_array[cross, :, 0])
    bl = np.hypot(uv.uvw_array[cross, 0], uv.uvw_array[cross, 1])
    short, long_ = amp[bl < 100].mean(), amp[bl > 1500].mean()
    assert long_ < 0.5 * short  # a 30" source is resolved on the outriggers
    assert np.abs(uv.data_array[cross, :, 0].imag).max() < 2e-3


def test_noise_and_corruptions(tmp_path: Path) -> None:
    start = mjd_from_iso(START)
    sky = Sky(0, DEC, 1, 0, start, 1, [])
    (truth,) = simulate_groups(
        out_dir=tmp_path, sky=sky, start_mjd=start, n_groups=1, dec_deg=DEC, corrupt=False
    )
    uv = _read(tmp_path / truth["files"][5])
    cross = uv.ant_1_array != uv.ant_2_array
    sigma = DSA110.thermal_noise_jy(chan_width_hz=uv.channel_width[0], integration_s=12.884902)
    re_std = uv.data_array[cross].real.std()
    assert re_std == pytest.approx(sigma, rel=0.03)
    assert truth["noise_jy_per_vis"] == pytest.approx(sigma)
    autos = uv.data_array[~cross][:, :, 0]
    assert np.all(autos.imag == 0) and autos.real.mean() == pytest.approx(DSA110.sefd_jy, rel=0.01)


def test_corruption_matches_truth(tmp_path: Path) -> None:
    start = mjd_from_iso(START)
    sky = _one_source_sky(start, 0.0, 0.0)
    (truth,) = simulate_groups(
        out_dir=tmp_path / "c", sky=sky, start_mjd=start, n_groups=1, dec_deg=DEC, noise=False
    )
    (clean,) = simulate_groups(
        out_dir=tmp_path / "n", sky=sky, start_mjd=start, n_groups=1, dec_deg=DEC,
        noise=False, corrupt=False,
    )  # fmt: skip
    import json

    run = json.loads((tmp_path / "c" / "truth" / "run.json").read_text())
    inst = InstrumentModel.from_dict(run["instrument"])
    a = _read(tmp_path / "c" / truth["files"][7])
    b = _read(tmp_path / "n" / clean["files"][7])
    from astropy.time import Time

    times = np.unique(a.time_array)
    jones = inst.jones(Time(times, format="jd").mjd, a.freq_array)
    ti = np.searchsorted(times, a.time_array)
    corr = np.conj(jones[ti, a.ant_1_array, 0, :]) * jones[ti, a.ant_2_array, 1, :]
    cross = a.ant_1_array != a.ant_2_array
    # XY is zero for an unpolarised sky: check XX, whose feeds are (0, 0).
    corr_xx = np.conj(jones[ti, a.ant_1_array, 0, :]) * jones[ti, a.ant_2_array, 0, :]
    assert np.allclose(
        a.data_array[cross, :, 0],
        (b.data_array[cross, :, 0] * corr_xx[cross]),
        rtol=1e-4,
        atol=1e-5,
    )
    assert corr.shape == corr_xx.shape
    assert not np.allclose(a.data_array[cross, :, 0], b.data_array[cross, :, 0], rtol=0.05)


def test_calibrator_transits_in_chosen_group(tmp_path: Path) -> None:
    from contimg.sim.sky import make_sky

    start = mjd_from_iso("2025-10-02T00:00:00")
    sky = make_sky(
        ra_deg=202.78, dec_deg=30.51, radius_deg=1.0, seed=1, epoch_mjd=start, density_per_deg2=5
    )
    cfg = plan_run(out_dir=tmp_path, sky=sky, start_mjd=start, n_groups=3, calibrator="3c286",
                   calibrator_group=1)  # fmt: skip
    assert cfg.dec_deg == pytest.approx(30.509, abs=0.01)
    plan = cfg.plans[1]
    pra, _ = icrs_of_pointing(plan.mid_mjd, cfg.dec_deg)
    assert abs(pra - 202.7845) < 0.05


def test_interrupted_write_leaves_no_final_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real = UVData.write_uvh5

    def flaky(self: UVData, filename: str, **kw: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            Path(filename).write_bytes(b"half")
            raise KeyboardInterrupt
        real(self, filename, **kw)

    monkeypatch.setattr(UVData, "write_uvh5", flaky)
    start = mjd_from_iso(START)
    with pytest.raises(KeyboardInterrupt):
        list(simulate_groups(out_dir=tmp_path, sky=Sky(0, DEC, 1, 0, start, 1, []),
                             start_mjd=start, n_groups=1, dec_deg=DEC))  # fmt: skip
    files = [p for p in tmp_path.iterdir() if p.is_file()]
    assert len(files) == 2 and all(NAME.match(p.name) for p in files)
    for p in files:
        _read(p)  # complete, readable


def test_station_csv_layout(tmp_path: Path) -> None:
    from contimg.sim.layout import load_layout, read_station_csv

    if STATIONS.exists():
        lay = read_station_csv(STATIONS)
        assert lay.n_antennas == 117 and 2000 < lay.max_baseline_m() < 3500
        assert load_layout(STATIONS, 96).n_antennas == 96
    bad = tmp_path / "bad.csv"
    bad.write_text("name,lat,lon\nfoo,bar,baz\n")
    with pytest.raises(ContimgError, match="station rows"):
        read_station_csv(bad)
    with pytest.raises(ContimgError, match="cannot read antenna position file"):
        read_station_csv(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"preset": "huge"}, "unknown simulation preset 'huge'"),
        ({"dec_deg": -60.0}, "cannot be observed"),
        ({"n_groups": 0}, "at least 1"),
        ({"calibrator": "3C999"}, "unknown calibrator"),
        ({"calibrator": "3C48"}, "does not pass within"),
    ],
)
def test_bad_input(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    start = mjd_from_iso(START)
    args: dict[str, object] = {
        "out_dir": tmp_path / "o", "sky": Sky(0, DEC, 1, 0, start, 1, []), "start_mjd": start,
        "n_groups": 1, "dec_deg": DEC,
    }  # fmt: skip
    args.update(kwargs)
    with pytest.raises(ContimgError, match=message):
        plan_run(**args)  # type: ignore[arg-type]


def test_unwritable_output_and_missing_catalog(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    start = mjd_from_iso(START)
    with pytest.raises(ContimgError, match="cannot create output directory"):
        plan_run(out_dir=blocker / "o", sky=Sky(0, DEC, 1, 0, start, 1, []), start_mjd=start,
                 n_groups=1, dec_deg=DEC)  # fmt: skip
    with pytest.raises(ContimgError, match="does not exist"):
        plan_run(out_dir=tmp_path / "o", catalog_dir=tmp_path / "nocat", start_mjd=start,
                 n_groups=1, dec_deg=DEC)  # fmt: skip


def test_plan_is_deterministic() -> None:
    a = plan_groups(60950.0, 3, seed=1)
    b = plan_groups(60950.0, 3, seed=1)
    assert [p.file_times for p in a] == [p.file_times for p in b]
    assert run_groups  # the streaming entry point exists for the demo


def test_demo_preset_sizes(tmp_path: Path) -> None:
    """48 antennas, 4 channels per subband; autocorrelations real and at the SEFD."""
    start = mjd_from_iso(START)
    (truth,) = simulate_groups(
        out_dir=tmp_path, sky=Sky(0, DEC, 1, 0, start, 1, []), start_mjd=start, n_groups=1,
        dec_deg=DEC, preset="demo",
    )  # fmt: skip
    uv = _read(tmp_path / truth["files"][9])
    assert uv.Nants_data == 48 and uv.Nfreqs == 4 and uv.Ntimes == 24
    autos = uv.ant_1_array == uv.ant_2_array
    xx = uv.data_array[autos, :, 0]
    assert np.all(xx.imag == 0)
    gains = InstrumentModel.from_dict(
        __import__("json").loads((tmp_path / "truth" / "run.json").read_text())["instrument"]
    )
    assert gains.n_antennas == 48
    assert 0.3 * DSA110.sefd_jy < np.median(xx.real) < 2.0 * DSA110.sefd_jy


def test_skip_existing_resumes_an_interrupted_run(tmp_path: Path) -> None:
    """Groups whose truth exists are not simulated again; the rest are."""
    from contimg.sim.observe import run_groups
    from contimg.sim.sky import make_sky

    start = mjd_from_iso("2025-10-02T00:00:00")
    sky = make_sky(
        ra_deg=202.78, dec_deg=30.51, radius_deg=1.0, seed=1, epoch_mjd=start, density_per_deg2=2
    )
    cfg = plan_run(out_dir=tmp_path, sky=sky, start_mjd=start, n_groups=2, calibrator="3c286")
    first = [t["group_id"] for t in run_groups(cfg)]
    assert len(first) == 2
    assert cfg.truth_dir is not None
    (cfg.truth_dir / f"{first[1]}.json").unlink()
    again = [t["group_id"] for t in run_groups(cfg, skip_existing=True)]
    assert again == [first[1]]
    assert [t["group_id"] for t in run_groups(cfg, skip_existing=True)] == []


def test_revisits_on_sidereal_days_with_selected_groups() -> None:
    """--days repeats the day's groups one sidereal day later (same LST, so the same
    field); --select skips the groups in between without changing the others."""
    from contimg.sim.astro import SIDEREAL_DAY_S, lst_deg

    full = plan_groups(60950.0, 11, seed=1)
    plans = plan_groups(60950.0, 11, seed=1, days=3, select=[0, 8, 9, 10])
    assert [p.index for p in plans] == list(range(12))
    assert [p.start_mjd for p in plans] == sorted(p.start_mjd for p in plans)
    dur_d = DSA110.group_duration_s / 86400.0
    sidereal_d = SIDEREAL_DAY_S / 86400.0
    for day in range(3):
        for k, g in enumerate((0, 8, 9, 10)):
            p = plans[4 * day + k]
            assert p.start_mjd == pytest.approx(60950.0 + day * sidereal_d + g * dur_d, abs=1e-9)
            assert abs(lst_deg(p.mid_mjd) - lst_deg(full[g].mid_mjd)) < 0.01
    # The jitter of a selected group does not depend on what else is selected.
    assert plans[1].file_times == full[8].file_times
    assert len({p.group_id for p in plans}) == 12
    with pytest.raises(ContimgError, match=r"not among the run's 0\.\.10"):
        plan_groups(60950.0, 11, seed=1, select=[11])
    with pytest.raises(ContimgError, match="days must be at least 1"):
        plan_groups(60950.0, 11, seed=1, days=0)
    assert observe.parse_selection("0, 8-10,9") == [0, 8, 9, 10]
