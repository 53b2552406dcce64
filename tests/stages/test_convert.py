"""Conversion: a group's 16 UVH5 files -> one MS with ascending frequency; ms_index row."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from casacore import tables as pt

from contimg.config import Settings
from contimg.conversion.ms import convert_group
from contimg.db.engine import Databases
from contimg.db.queries import products as pq
from contimg.errors import ContimgError
from contimg.stages.artifacts import artifacts_from_db
from contimg.stages.base import StageContext
from contimg.stages.convert import ConvertStage
from contimg.telescope import DSA110
from tests.stages.conftest import GROUP_START, N_TIMES


def _ctx(settings: Settings, dbs: Databases, paths: dict[int, Path]) -> StageContext:
    return StageContext(
        settings=settings,
        dbs=dbs,
        group_id=GROUP_START,
        subband_paths=paths,
        workdir=settings.products_path / GROUP_START,
    )


def test_one_ms_ascending_frequency_four_pols(small_group: dict[int, Path], tmp_path: Path) -> None:
    ms = tmp_path / "g.ms"
    result = convert_group(small_group, ms)
    assert ms.is_dir() and not ms.with_name("g.ms.tmp").exists()
    assert not ms.with_name("g.ms.parts").exists()
    spw = pt.table(str(ms / "SPECTRAL_WINDOW"), ack=False)
    assert spw.nrows() == 1
    freqs = spw.getcell("CHAN_FREQ", 0)
    assert freqs.size == 32 == spw.getcell("NUM_CHAN", 0) == result.n_chan
    assert np.all(np.diff(freqs) > 0)
    expected = np.concatenate([DSA110.subband_channel_freqs_hz(sb, 2) for sb in range(15, -1, -1)])
    np.testing.assert_allclose(freqs, expected)
    assert spw.getcell("TOTAL_BANDWIDTH", 0) == pytest.approx(DSA110.band_high_hz - 1311.25e6)
    pol = pt.table(str(ms / "POLARIZATION"), ack=False)
    assert list(pol.getcell("CORR_TYPE", 0)) == [9, 10, 11, 12]  # XX XY YX YY
    main = pt.table(str(ms), ack=False)
    data = main.getcol("DATA")
    assert data.shape == (N_TIMES * 21, 32, 4)
    # A 5 Jy source at the phase centre: cross-correlations ~5 Jy, real, in every channel.
    cross = main.getcol("ANTENNA1") != main.getcol("ANTENNA2")
    np.testing.assert_allclose(np.abs(data[cross][:, :, 0]), 5.0, rtol=0.02)
    assert np.abs(np.angle(data[cross][:, :, 0])).max() < 0.05
    field = pt.table(str(ms / "FIELD"), ack=False).getcol("PHASE_DIR")[0, 0]
    assert np.degrees(field[0]) % 360 == pytest.approx(result.pointing_ra_deg, abs=1e-6)
    assert np.degrees(field[1]) == pytest.approx(result.pointing_dec_deg, abs=1e-6)


def test_stage_writes_ms_index_and_rerun_replaces(
    small_group: dict[int, Path], settings: Settings, dbs: Databases
) -> None:
    # Four subbands keep the test short (the stage converts whatever subbands it is given).
    small_group = {i: small_group[i] for i in (0, 5, 10, 15)}
    ctx = _ctx(settings, dbs, small_group)
    ConvertStage().run(ctx)
    ms = settings.products_path / GROUP_START / f"{GROUP_START}.ms"
    assert ctx.artifacts["ms_path"] == ms
    with dbs.products.read() as conn:
        row = pq.get_ms(conn, path=str(ms))
    assert row is not None
    assert row.stage == "converted" and row.status == "ok" and row.cal_applied == 0
    assert row.start_mjd < row.mid_mjd < row.end_mjd
    assert (row.end_mjd - row.start_mjd) * 86400 == pytest.approx(
        N_TIMES * DSA110.integration_s, rel=1e-6
    )
    assert row.field_name.startswith("J") and row.field_name[5] == "+"
    assert abs(row.pointing_dec_deg - 54.57) < 0.5
    assert ctx.timings_s["conversion_time"] > 0 and ctx.timings_s["concat_time"] > 0
    # Re-run: replaced, not duplicated.
    ctx2 = _ctx(settings, dbs, small_group)
    ConvertStage().run(ctx2)
    with dbs.products.read() as conn:
        n = conn.exec_driver_sql("SELECT COUNT(*) FROM ms_index").scalar()
    assert n == 1
    # A later stage can rebuild the artifacts from the database.
    ctx3 = _ctx(settings, dbs, small_group)
    art = artifacts_from_db(ctx3)
    assert art["mid_mjd"] == pytest.approx(row.mid_mjd)


def test_missing_file_is_named(small_group: dict[int, Path], tmp_path: Path) -> None:
    small_group[7].unlink()
    with pytest.raises(ContimgError, match=r"sb07\.hdf5 does not exist"):
        convert_group(small_group, tmp_path / "g.ms")
    assert not (tmp_path / "g.ms").exists()


def test_mismatched_declination_is_named(small_group: dict[int, Path], tmp_path: Path) -> None:
    with h5py.File(small_group[3], "r+") as fh:
        fh["Header/extra_keywords/phase_center_dec"][()] = np.radians(16.3)
    with pytest.raises(ContimgError, match=r"sb03\.hdf5: phase_center_dec 16\.3000 deg"):
        convert_group(small_group, tmp_path / "g.ms")


def test_corrupt_file_is_named(small_group: dict[int, Path], tmp_path: Path) -> None:
    small_group[5].write_bytes(b"not an hdf5 file")
    with pytest.raises(ContimgError, match=r"cannot read UVH5 file .*sb05\.hdf5"):
        convert_group(small_group, tmp_path / "g.ms")


def test_relative_directories_store_absolute_paths(
    small_group_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relative --home / --incoming-dir options from one working directory: the scan and
    the conversion store absolute paths, which name the files from another one (issue 19)."""
    import shutil

    import sqlalchemy as sa
    from typer.testing import CliRunner

    from contimg.cli import app
    from contimg.config import get_settings
    from contimg.db.ingest import subband_files

    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    shutil.copytree(small_group_dir, here / "landing")
    elsewhere.mkdir()
    monkeypatch.chdir(here)
    for var in (
        "CONTIMG_HOME",
        "CONTIMG_INCOMING_DIR",
        "CONTIMG_PRODUCTS_DIR",
        "CONTIMG_STATE_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    root = ["--home", "rel-home", "--incoming-dir", "./landing/../landing"]
    runner = CliRunner()
    for args in (["db", "init"], ["ingest", "scan", "--finalize"]):
        res = runner.invoke(app, [*root, *args], env={"CONTIMG_INGEST__SETTLE_S": "0.1"})
        assert res.exit_code == 0, res.output
    settings = get_settings(home=Path("rel-home"))  # resolved here, at start-up
    dbs = Databases(settings)
    with dbs.ingest.read() as conn:
        files = list(conn.execute(sa.select(subband_files.c.file_path)).scalars())
    assert len(files) == 16
    paths = {int(Path(f).stem[-2:]): Path(f) for f in files}
    ConvertStage().run(_ctx(settings, dbs, {i: paths[i] for i in (0, 15)}))
    monkeypatch.chdir(elsewhere)  # read them from another working directory
    with dbs.products.read() as conn:
        ms = conn.exec_driver_sql("SELECT path FROM ms_index").scalar_one()
    dbs.dispose()
    base = here.resolve()
    assert ms == str(base / "rel-home/products" / GROUP_START / f"{GROUP_START}.ms")
    assert Path(ms).is_dir()
    assert all(f.startswith(str(base / "landing") + "/") and Path(f).is_file() for f in files)


def _edit(path: Path, fn: object) -> None:
    with h5py.File(path, "r+") as fh:
        fn(fh)  # type: ignore[operator]


@pytest.mark.tools
def test_zero_cross_hands_dead_antenna_and_flagged_subband(
    small_group: dict[int, Path], tmp_path: Path
) -> None:
    """The stage groups' cross-hands are exactly zero (an unpolarised sky without noise),
    as some writers fill them. Stokes I keeps the parallel hands; a dead antenna and a
    fully flagged subband are flagged and reported, not the rest."""
    from contimg.calibration import dp3 as d

    def kill_pad3(fh: h5py.File) -> None:
        a1, a2 = fh["Header/ant_1_array"][()], fh["Header/ant_2_array"][()]
        vis = fh["Data/visdata"][()]
        vis[(a1 == 2) | (a2 == 2)] = 0
        fh["Data/visdata"][()] = vis

    for p in small_group.values():
        _edit(p, kill_pad3)
    _edit(small_group[5], lambda fh: fh["Data/flags"].__setitem__((), True))
    ms = tmp_path / "g.ms"
    notes: list[str] = []
    convert_group(small_group, ms, progress=notes.append)
    (summary,) = [n for n in notes if "usable" in n]
    assert "fully flagged subbands: " in summary and "sb05" in summary
    assert "dead antennas: pad3" in summary

    def flags() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with pt.table(str(ms), ack=False) as main:
            f = main.getcol("FLAG")
            a1, a2 = main.getcol("ANTENNA1"), main.getcol("ANTENNA2")
        return f, a1, a2

    f, a1, a2 = flags()
    live = (a1 != a2) & (a1 != 2) & (a2 != 2)
    # sb05 is channels 20-21 of the ascending band (sb15 first, 2 channels each).
    good_chans = [c for c in range(32) if c not in (20, 21)]
    assert not f[live][:, good_chans, :].any()  # parallel hands kept, cross-hands not flagged
    assert f[live][:, [20, 21], :].all()
    assert f[(a1 == 2) | (a2 == 2)].all()
    # DP3 (autocorrelation flagging + AOFlagger) leaves the parallel hands of live baselines.
    runner = d.Dp3Runner(d.dp3_executable(None), log_dir=tmp_path / "logs")
    d.flag(runner, ms, aoflagger=True)
    f, a1, a2 = flags()
    kept = ~f[live][:, good_chans, :][:, :, [0, 3]]
    assert kept.mean() > 0.9


def test_group_without_usable_data_fails_at_conversion(
    small_group: dict[int, Path], tmp_path: Path
) -> None:
    def zero(fh: h5py.File) -> None:
        fh["Data/visdata"][()] = np.zeros_like(fh["Data/visdata"][()])

    for p in small_group.values():
        _edit(p, zero)
    with pytest.raises(
        ContimgError,
        match=r"g\.ms: the group has no usable data .*all zero or flagged in the parallel hands"
        r".*antennas with no data in any subband: pad1, pad2",
    ):
        convert_group(small_group, tmp_path / "g.ms")
    assert not (tmp_path / "g.ms").exists() and not (tmp_path / "g.ms.parts").exists()


def test_averaging_factor_keeps_channels_within_the_width() -> None:
    from contimg.conversion.ms import averaging_factor

    native = DSA110.subband_width_hz / 48  # 244 kHz
    assert averaging_factor(48, native, 1.0e6) == 4  # 12 channels of 977 kHz
    assert averaging_factor(48, native, 0.0) == 1  # never
    assert averaging_factor(4, DSA110.subband_width_hz / 4, 1.0e6) == 1  # already wider
    assert averaging_factor(48, native, 2.0e6) == 8
    assert averaging_factor(2, native, 1.0e6) == 2  # never more than the subband has


def test_channels_averaged_after_phasing_flagged_samples_left_out(tmp_path: Path) -> None:
    """2 channels per subband averaged into 1: 16 channels at the subbands' centres, twice
    as wide, the source's amplitude kept and weights added; a zeroed (missing) channel is
    left out of its average instead of halving it.

    The files are phased to the zenith, as the telescope writes them; the source at the
    pointing, 17 deg away, winds by ~3.7 rad between the two channels on the 100 m
    north-south baselines, so averaging before phasing would lose most of it."""
    from astropy.time import Time

    from contimg.calibration.pointing import meridian_pointing_icrs
    from tests.stages.conftest import DEC_DEG
    from tests.stages.groups import PointSource, write_group

    start = Time(GROUP_START, scale="utc")
    mid = start.mjd + 0.5 * N_TIMES * DSA110.integration_s / 86400.0
    ra, dec = meridian_pointing_icrs(mid, DEC_DEG)
    paths = write_group(
        tmp_path / "in", start=start, dec_deg=DEC_DEG, sources=[PointSource(ra, dec, 5.0)],
        n_ant=6, n_chan=2, n_times=N_TIMES, drift_at_zenith=True,
    )  # fmt: skip
    group = {int(p.stem[-2:]): p for p in paths}
    with h5py.File(group[3], "r+") as fh:
        data = fh["Data/visdata"]
        block = data[...]
        block[:, 1, :] = 0  # sb03's second channel is missing
        data[...] = block
    width = DSA110.subband_width_hz / 2
    ms = tmp_path / "avg.ms"
    result = convert_group(group, ms, max_chan_width_hz=width * 2)
    spw = pt.table(str(ms / "SPECTRAL_WINDOW"), ack=False)
    freqs = spw.getcell("CHAN_FREQ", 0)
    assert freqs.size == 16 == result.n_chan
    expected = [DSA110.subband_channel_freqs_hz(sb, 2).mean() for sb in range(15, -1, -1)]
    np.testing.assert_allclose(freqs, expected)
    np.testing.assert_allclose(spw.getcell("CHAN_WIDTH", 0), 2 * width)
    main = pt.table(str(ms), ack=False)
    cross = main.getcol("ANTENNA1") != main.getcol("ANTENNA2")
    data = main.getcol("DATA")[cross]
    flags = main.getcol("FLAG")[cross]
    weights = main.getcol("WEIGHT_SPECTRUM")[cross]
    assert not flags[:, :, 0].any()
    np.testing.assert_allclose(np.abs(data[:, :, 0]), 5.0, rtol=0.02)
    sb03 = 15 - 3  # ascending frequency: sb15 is channel 0
    others = [c for c in range(16) if c != sb03]
    np.testing.assert_allclose(weights[:, others, 0], 2.0)
    np.testing.assert_allclose(weights[:, sb03, 0], 1.0)


def test_parallel_conversion_writes_the_same_ms(
    small_group: dict[int, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contimg.conversion import ms as conversion

    monkeypatch.setattr(conversion, "PARALLEL_MIN_BYTES", 0)  # the test files are small
    one = convert_group(small_group, tmp_path / "one.ms")
    two = convert_group(small_group, tmp_path / "two.ms", processes=2)
    assert one.n_chan == two.n_chan
    a, b = pt.table(str(one.ms_path), ack=False), pt.table(str(two.ms_path), ack=False)
    for col in ("DATA", "FLAG", "WEIGHT_SPECTRUM", "UVW", "TIME"):
        np.testing.assert_array_equal(a.getcol(col), b.getcol(col))


@pytest.mark.parametrize("processes", [1, 2])
def test_truncated_file_is_named(
    small_group: dict[int, Path], tmp_path: Path, processes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contimg.conversion import ms as conversion

    monkeypatch.setattr(conversion, "PARALLEL_MIN_BYTES", 0)
    data = small_group[5].read_bytes()
    small_group[5].write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ContimgError, match=r"sb05\.hdf5"):
        convert_group(small_group, tmp_path / "g.ms", processes=processes)
    assert not (tmp_path / "g.ms").exists()


@pytest.mark.tools
def test_flagging_resumes_after_a_run_killed_while_writing_statistics(
    small_group: dict[int, Path], tmp_path: Path
) -> None:
    """A flagging run killed while AOFlagger wrote its statistics subtables leaves them on
    disk unknown to the main table; DP3 then failed on every retry ("RecordInterface:
    field QUALITY_KIND_NAME is unknown", seen when a demo was stopped mid-group)."""
    from contimg.calibration import dp3 as d

    ms = tmp_path / "g.ms"
    convert_group(small_group, ms)
    runner = d.Dp3Runner(d.dp3_executable(None), log_dir=tmp_path / "logs")
    d.flag(runner, ms, aoflagger=True)
    with pt.table(str(ms), readonly=False, ack=False) as main:
        for name in d.QUALITY_TABLES:
            main.removekeyword(name)  # what the killed run left: the tables, no keywords
    assert all((ms / name).is_dir() for name in d.QUALITY_TABLES)
    d.flag(runner, ms, aoflagger=True)
    with pt.table(str(ms), ack=False) as main:
        assert set(d.QUALITY_TABLES) <= set(main.keywordnames())
