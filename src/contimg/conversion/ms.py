"""Conversion: the 16 UVH5 subband files of a group -> one Measurement Set.

Layout of the MS (see docs/calibration.md):

* ONE spectral window holding every channel of the group in ascending frequency
  (sb15 first). DP3 processes one spectral window per run, and WSClean images a
  single window without ``-reorder`` gymnastics; one window keeps both simple.
* 4 polarisations (XX, XY, YX, YY), as DP3's AOFlagger step requires.
* All integrations phased to ONE centre: the meridian pointing (hour angle 0,
  pointing Dec) at the group's mid-time, in ICRS. The drift-scan files are phased
  per integration to RA = LST; pyuvdata re-phases them (with the w-term).

Channels: adjacent channels are averaged while converting, as many as keep a channel
at most ``conversion.max_chan_width_khz`` wide (:func:`averaging_factor`: the
telescope's 48 x 244 kHz per subband become 12 x 977 kHz; the scaled simulator
presets' 2.93 MHz channels are kept). Flagged samples are left out of the average
and the weights add up.

Memory: subbands are streamed. Each is read with pyuvdata, re-phased, averaged and
written to a temporary single-subband MS (``conversion_time``), one at a time, or
``conversion.processes`` at a time in child processes for large files; then the
temporary MSs are merged channel-wise into the final MS in blocks of rows
(``concat_time``). At no point is more than one subband per process in memory.
"""

from __future__ import annotations

import functools
import math
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from contimg.calibration.pointing import field_name, meridian_pointing_icrs
from contimg.errors import ContimgError

DATA_COLUMNS = ("DATA", "FLAG", "WEIGHT_SPECTRUM")
PARALLEL_MIN_BYTES = 64 * 1024**2
"""Subband files smaller than this on average are converted one at a time (starting a
child process costs seconds; the scaled simulator presets' files are a few MB)."""
ROW_BLOCK = 20_000
"""Rows merged per block (at 768 channels x 4 pols: ~0.5 GB of complex64)."""


@dataclass(frozen=True)
class GroupHeader:
    """What the stage needs to know about a group before reading any data."""

    start_mjd: float
    end_mjd: float
    mid_mjd: float
    pointing_dec_deg: float
    """Declination of date from the files' ``phase_center_dec``."""
    n_times: int
    integration_s: float


def read_group_header(paths: list[Path]) -> GroupHeader:
    """Read the headers (no data) of a group's files and check they agree.

    Raises
    ------
    ContimgError
        A file is unreadable, lacks ``phase_center_dec``, or its times disagree
        with the others'.
    """
    from pyuvdata import UVData

    ref_times: np.ndarray | None = None
    dec_rad: float | None = None
    int_s = 0.0
    for path in paths:
        uv = _read_uvh5(path, read_data=False)
        assert isinstance(uv, UVData)
        times = np.unique(uv.time_array)
        if ref_times is None:
            ref_times = times
            int_s = float(np.median(uv.integration_time))
        elif times.shape != ref_times.shape or np.max(np.abs(times - ref_times)) * 86400 > 1.0:
            raise ContimgError(
                f"{path}: its {times.size} integrations do not match the group's first file "
                f"({ref_times.size} integrations); the group's files must share their times"
            )
        kw = uv.extra_keywords.get("phase_center_dec")
        if kw is None:
            raise ContimgError(
                f"{path}: no 'phase_center_dec' in the header's extra keywords; "
                "cannot tell the pointing declination"
            )
        if dec_rad is None:
            dec_rad = float(kw)
        elif abs(float(kw) - dec_rad) > 1e-6:
            raise ContimgError(
                f"{path}: phase_center_dec {math.degrees(float(kw)):.4f} deg differs from the "
                f"group's {math.degrees(dec_rad):.4f} deg"
            )
    assert ref_times is not None and dec_rad is not None
    jd_to_mjd = 2400000.5
    half = 0.5 * int_s / 86400.0
    return GroupHeader(
        start_mjd=float(ref_times.min() - half - jd_to_mjd),
        end_mjd=float(ref_times.max() + half - jd_to_mjd),
        mid_mjd=float(ref_times.mean() - jd_to_mjd),
        pointing_dec_deg=math.degrees(dec_rad),
        n_times=int(ref_times.size),
        integration_s=int_s,
    )


def _read_uvh5(path: Path, *, read_data: bool = True) -> Any:
    from pyuvdata import UVData

    if not path.is_file():
        raise ContimgError(f"subband file {path} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return UVData.from_file(
                str(path),
                file_type="uvh5",
                read_data=read_data,
                data_array_dtype=np.complex64,
                run_check=read_data,
            )
    except (OSError, KeyError, ValueError) as exc:
        raise ContimgError(f"cannot read UVH5 file {path}: {exc}") from exc


def _uvws_for(uv: Any, catalog_entry: dict[str, Any] | None) -> np.ndarray:
    """uvw (metres) of ``uv``'s baselines for a phase centre (None: unprojected/zenith)."""
    meta = uv.copy(metadata_only=True)
    meta.phase_center_catalog = {}
    if catalog_entry is None:
        cat_id = meta._add_phase_center("zenith", cat_type="unprojected")
    else:
        cat_id = meta._add_phase_center(**catalog_entry)
    meta.phase_center_id_array = np.full(meta.Nblts, cat_id, dtype=int)
    meta._set_app_coords_helper()
    with warnings.catch_warnings():
        # "Recalculating uvw_array without adjusting visibility phases": intended here.
        warnings.simplefilter("ignore", UserWarning)
        meta.set_uvws_from_antenna_positions(update_vis=False)
    return np.asarray(meta.uvw_array, dtype=np.float64)


def relabel_phase_centre(uv: Any, path: Path) -> bool:
    """Give data labelled as zenith drift but fringe-stopped at the meridian their true centre.

    DSA-110's own writer labels its files as drift (unprojected, i.e. phased to the
    zenith: old UVH5 ``phase_type = "drift"``) while the data are fringe-stopped at
    the meridian pointing, hour angle 0 at Dec ``phase_center_dec`` (dsa110.md), with
    the uvw of that direction. Taken at its label, re-phasing would start from the
    zenith and leave a constant per-antenna phase error. pyuvdata (and contimg's
    simulator) also write ``unprojected`` files, whose data and uvw ARE at the zenith.
    The label cannot tell them apart; the uvw can: a file labelled ``unprojected``
    that carries ``phase_center_dec`` and whose uvw are those of the meridian pointing
    (closer to them than to the zenith's) is relabelled as a drift scan at the meridian
    pointing (the visibilities are left as they are). Files labelled ``driftscan`` or
    ``sidereal`` (as pyuvdata writes phased data) are taken as labelled. Returns True
    when the file was relabelled.
    """
    kw = uv.extra_keywords.get("phase_center_dec")
    cat = uv.phase_center_catalog or {}
    if kw is None or not cat or any(c.get("cat_type") != "unprojected" for c in cat.values()):
        return False
    lat_deg = float(uv.telescope.location.lat.deg)
    dec_deg = math.degrees(float(kw))
    if not -90.0 <= dec_deg <= 90.0:
        raise ContimgError(f"{path}: phase_center_dec {dec_deg:.3f} deg is impossible")
    el_deg = 90.0 - abs(dec_deg - lat_deg)
    if abs(el_deg - 90.0) < 1e-6:
        return False  # pointing at the zenith: both readings agree
    az_deg = 0.0 if dec_deg >= lat_deg else 180.0
    meridian = {
        "cat_name": "meridian",
        "cat_type": "driftscan",
        "cat_lon": math.radians(az_deg),
        "cat_lat": math.radians(el_deg),
        "cat_frame": "altaz",
    }
    uvw = np.asarray(uv.uvw_array, dtype=np.float64)
    cross = uv.ant_1_array != uv.ant_2_array
    if not cross.any():
        return False
    d_zenith = float(np.sqrt(np.mean((uvw[cross] - _uvws_for(uv, None)[cross]) ** 2)))
    uvw_meridian = _uvws_for(uv, meridian)
    d_meridian = float(np.sqrt(np.mean((uvw[cross] - uvw_meridian[cross]) ** 2)))
    if not d_meridian < d_zenith:
        return False
    uv.phase_center_catalog = {}
    cat_id = uv._add_phase_center(**meridian)
    uv.phase_center_id_array = np.full(uv.Nblts, cat_id, dtype=int)
    uv._set_app_coords_helper()
    uv.uvw_array = uvw_meridian
    return True


PARALLEL_POLS = (-5, -6)
"""AIPS codes of XX and YY: the hands Stokes I = (XX + YY) / 2 is made of."""


@dataclass
class SubbandUsage:
    """What of one subband is usable: unflagged parallel-hand cross-correlation samples."""

    path: Path
    n_samples: int
    """Cross-correlation (baseline-time, channel) samples."""
    n_usable: int
    """Of them, with both parallel hands unflagged and non-zero."""
    dead_antennas: list[str]
    """Antennas whose every cross-correlation parallel-hand sample is zero or flagged."""


def flag_missing(uv: Any) -> tuple[int, int, list[str]]:
    """Flag missing data (exact zeros) the way Stokes I needs it, in place.

    A (baseline-time, channel) sample is flagged in ALL polarisations when one of its
    parallel hands (XX, YY) is exactly zero (DP3 keeps one flag per sample for all
    correlations anyway). Zero cross-hands (XY, YX) alone flag nothing: some writers
    fill them with zeros, and Stokes I does not use them; flagging them would make DP3
    flag the parallel hands too and leave nothing to image.

    Returns (cross-correlation samples, usable ones, names of dead antennas).
    """
    pols = [int(p) for p in np.asarray(uv.polarization_array).ravel()]
    par = [pols.index(p) for p in PARALLEL_POLS if p in pols]
    if not par:
        raise ContimgError(
            f"no parallel-hand (XX/YY) polarisations in the data (have {pols}); "
            "Stokes I cannot be made"
        )
    data = uv.data_array  # (n_blts, n_chans, n_pols)
    zero = np.zeros(data.shape[:2], dtype=bool)
    for k in par:
        zero |= data[:, :, k] == 0
    uv.flag_array |= zero[:, :, None]
    bad = np.any(uv.flag_array[:, :, par], axis=2)  # (n_blts, n_chans)
    cross = uv.ant_1_array != uv.ant_2_array
    usable = ~bad & cross[:, None]
    n_samples = int(cross.sum()) * bad.shape[1]
    names = dict(zip(uv.telescope.antenna_numbers, uv.telescope.antenna_names, strict=False))
    dead = []
    for ant in np.unique(np.concatenate([uv.ant_1_array[cross], uv.ant_2_array[cross]])):
        rows = cross & ((uv.ant_1_array == ant) | (uv.ant_2_array == ant))
        if not usable[rows].any():
            dead.append(str(names.get(int(ant), ant)))
    return n_samples, int(usable.sum()), dead


def averaging_factor(n_chan: int, chan_width_hz: float, max_width_hz: float) -> int:
    """Channels to average: the largest divisor of ``n_chan`` whose average is at most
    ``max_width_hz`` wide (1: none; also when ``max_width_hz`` is 0)."""
    if max_width_hz <= 0 or chan_width_hz <= 0:
        return 1
    best = 1
    for k in range(1, n_chan + 1):
        if n_chan % k == 0 and k * chan_width_hz <= max_width_hz * (1 + 1e-9):
            best = k
    return best


def _subband_to_ms(
    path: Path,
    out: Path,
    *,
    ra_deg: float,
    dec_deg: float,
    name: str,
    max_chan_width_hz: float = 0.0,
) -> tuple[np.ndarray, SubbandUsage]:
    """Read one subband, phase it to (ra, dec) ICRS, average its channels, write an MS.

    Returns its frequencies (Hz, after averaging) and what of it is usable.
    """
    uv = _read_uvh5(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        relabel_phase_centre(uv, path)
        try:
            n_samples, n_usable, dead = flag_missing(uv)
        except ContimgError as exc:
            raise ContimgError(f"{path}: {exc}") from exc
        # Phase to the pointing BEFORE averaging: the files are phased to the zenith,
        # where a source 15-20 deg away winds by several radians per MHz on the
        # outriggers' baselines and would decorrelate in the average.
        uv.phase(ra=math.radians(ra_deg), dec=math.radians(dec_deg), cat_name=name, epoch="J2000")
        width = float(np.abs(np.asarray(uv.channel_width, dtype=float)).ravel()[0])
        factor = averaging_factor(int(uv.Nfreqs), width, max_chan_width_hz)
        if factor > 1:
            uv.frequency_average(n_chan_to_avg=factor, sum_nsample=True)
        uv.write_ms(str(out), clobber=True, run_check=False)
    freqs = np.asarray(uv.freq_array, dtype=float).ravel()
    del uv
    return freqs, SubbandUsage(path, n_samples, n_usable, dead)


def _mean_size(paths: list[Path]) -> float:
    sizes = [p.stat().st_size for p in paths if p.is_file()]
    return sum(sizes) / len(sizes) if sizes else 0.0


def _convert_in_parallel(
    convert: Callable[[Path, Path], tuple[np.ndarray, SubbandUsage]],
    paths: list[Path],
    parts: list[Path],
    processes: int,
    progress: Callable[[str], None],
) -> list[tuple[np.ndarray, SubbandUsage]]:
    """``convert(path, part)`` (:func:`_subband_to_ms` with its arguments bound) of every
    subband, ``processes`` at a time, in order.

    The first failure (a :class:`ContimgError` naming its file) is raised once the
    running conversions end; the ones not started are cancelled.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        max_workers=processes, mp_context=mp.get_context("spawn"), initializer=_ignore_sigint
    )
    try:
        futures = [
            pool.submit(convert, path, part) for path, part in zip(paths, parts, strict=True)
        ]
        results = []
        for k, (path, fut) in enumerate(zip(paths, futures, strict=True)):
            results.append(fut.result())
            progress(f"converted {path.name} ({k + 1}/{len(paths)}, {processes} at a time)")
    except BaseException:
        # A failure, or the worker being stopped (SIGTERM / Ctrl-C): end the children
        # now rather than wait for their subbands, so the worker can release its group
        # within the supervisor's grace period; the parts directory is rebuilt on retry.
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results


def _ignore_sigint() -> None:
    """Conversion children leave Ctrl-C (sent to the whole process group) to the worker,
    which stops them."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def check_usable(usage: list[SubbandUsage], ms_name: str) -> str:
    """Raise when nothing of the group can be imaged; else a one-line summary of losses."""
    total = sum(u.n_samples for u in usage)
    usable = sum(u.n_usable for u in usage)
    empty = [u.path.name for u in usage if u.n_usable == 0]
    dead = sorted(set.intersection(*(set(u.dead_antennas) for u in usage))) if usage else []
    if usable == 0:
        why = []
        if dead:
            why.append(f"antennas with no data in any subband: {', '.join(dead)}")
        why.append(
            f"every one of its {len(usage)} subbands has no unflagged non-zero XX/YY "
            "cross-correlation sample"
        )
        raise ContimgError(
            f"{ms_name}: the group has no usable data ({total} cross-correlation samples, all "
            f"zero or flagged in the parallel hands XX/YY): {'; '.join(why)}"
        )
    parts = [f"{usable / total:.1%} of cross-correlation samples usable"]
    if empty:
        parts.append(f"fully flagged subbands: {', '.join(empty)}")
    if dead:
        parts.append(f"dead antennas: {', '.join(dead)}")
    return "; ".join(parts)


def _merge(parts: list[Path], freqs: list[np.ndarray], out: Path) -> None:
    """Merge single-subband MSs (ascending frequency) channel-wise into ``out``."""
    from casacore import tables as pt

    first = pt.table(str(parts[0]), ack=False)
    first.copy(str(out), deep=True, valuecopy=True, copynorows=True).close()
    # copynorows empties the subtables too: copy them whole from the first part.
    for sub in first.getsubtables():
        name = Path(sub).name
        shutil.rmtree(out / name, ignore_errors=True)
        pt.tablecopy(sub, str(out / name), deep=True)
    nrow = first.nrows()
    final = pt.table(str(out), readonly=False, ack=False)
    final.addrows(nrow)
    other_cols = [c for c in first.colnames() if c not in DATA_COLUMNS and c != "FLAG_CATEGORY"]
    for col in other_cols:
        final.putcol(col, first.getcol(col))
    ant1, ant2, t0 = first.getcol("ANTENNA1"), first.getcol("ANTENNA2"), first.getcol("TIME")
    first.close()
    tabs = [pt.table(str(p), ack=False) for p in parts]
    for tab, path in zip(tabs, parts, strict=True):
        if (
            tab.nrows() != nrow
            or not np.array_equal(tab.getcol("ANTENNA1"), ant1)
            or not np.array_equal(tab.getcol("ANTENNA2"), ant2)
            or np.max(np.abs(tab.getcol("TIME") - t0)) > 1.0
        ):
            raise ContimgError(f"{path}: rows (baselines/times) differ from the first subband's")
    cols = [c for c in DATA_COLUMNS if c in tabs[0].colnames()]
    for start in range(0, nrow, ROW_BLOCK):
        n = min(ROW_BLOCK, nrow - start)
        for col in cols:
            block = np.concatenate([t.getcol(col, startrow=start, nrow=n) for t in tabs], axis=1)
            final.putcol(col, block, startrow=start, nrow=n)
    for tab in tabs:
        tab.close()
    final.close()
    chan_freq = np.concatenate(freqs)
    width = np.diff(chan_freq).mean() if chan_freq.size > 1 else 0.0
    spw = pt.table(str(out / "SPECTRAL_WINDOW"), readonly=False, ack=False)
    spw.putcell("NUM_CHAN", 0, int(chan_freq.size))
    spw.putcell("CHAN_FREQ", 0, chan_freq)
    old_width = spw.getcell("CHAN_WIDTH", 0)
    w = float(old_width[0]) if len(old_width) else float(width)
    for col in ("CHAN_WIDTH", "EFFECTIVE_BW", "RESOLUTION"):
        spw.putcell(col, 0, np.full(chan_freq.size, w))
    spw.putcell("TOTAL_BANDWIDTH", 0, float(w * chan_freq.size))
    spw.putcell("REF_FREQUENCY", 0, float(chan_freq[0]))
    spw.close()


@dataclass(frozen=True)
class ConversionResult:
    ms_path: Path
    header: GroupHeader
    pointing_ra_deg: float
    pointing_dec_deg: float
    field_name: str
    n_chan: int
    conversion_s: float
    concat_s: float


def convert_group(
    subband_paths: dict[int, Path],
    ms_path: Path,
    *,
    max_chan_width_hz: float = 0.0,
    processes: int = 1,
    progress: Callable[[str], None] = lambda _msg: None,
) -> ConversionResult:
    """Convert a group's UVH5 files to ONE Measurement Set ``ms_path`` (ascending frequency).

    Channels are averaged to at most ``max_chan_width_hz`` (0: not averaged).
    ``processes`` > 1 converts that many subbands at a time in child processes
    (memory: one subband each) when the files are large (:data:`PARALLEL_MIN_BYTES`).

    The MS is built under ``<ms_path>.tmp`` and renamed into place at the end, so a
    crash never leaves a half-written MS under the final name; an existing MS of
    the same name is replaced.
    """
    if not subband_paths:
        raise ContimgError(f"no subband files given for {ms_path.name}")
    # sb00 is the highest frequency: ascending frequency is descending subband index.
    order = sorted(subband_paths, reverse=True)
    paths = [subband_paths[i] for i in order]
    header = read_group_header(paths)
    ra_deg, dec_deg = meridian_pointing_icrs(header.mid_mjd, header.pointing_dec_deg)
    name = field_name(ra_deg, dec_deg)
    tmp = ms_path.with_name(ms_path.name + ".tmp")
    parts_dir = ms_path.with_name(ms_path.name + ".parts")
    for d in (tmp, parts_dir):
        shutil.rmtree(d, ignore_errors=True)
    parts_dir.mkdir(parents=True)
    t0 = time.perf_counter()
    freqs: list[np.ndarray] = []
    usage: list[SubbandUsage] = []
    convert = functools.partial(
        _subband_to_ms, ra_deg=ra_deg, dec_deg=dec_deg, name=name,
        max_chan_width_hz=max_chan_width_hz,
    )  # fmt: skip
    parts = [parts_dir / f"sb{sb:02d}.ms" for sb in order]
    if processes > 1 and _mean_size(paths) < PARALLEL_MIN_BYTES:
        processes = 1  # small files: starting the children would cost more than it saves
    if processes <= 1:
        for k, (sb, path, part) in enumerate(zip(order, paths, parts, strict=True)):
            progress(f"converting sb{sb:02d} ({k + 1}/{len(paths)}): {path.name}")
            f, use = convert(path, part)
            freqs.append(f)
            usage.append(use)
    else:
        results = _convert_in_parallel(convert, paths, parts, processes, progress)
        freqs = [f for f, _ in results]
        usage = [u for _, u in results]
    t1 = time.perf_counter()
    try:
        summary = check_usable(usage, ms_path.name)
    except ContimgError:
        shutil.rmtree(parts_dir, ignore_errors=True)
        raise
    progress(summary)
    for a, b, pa, pb in zip(freqs, freqs[1:], paths, paths[1:], strict=False):
        if not b.min() > a.max():
            raise ContimgError(
                f"{pb}: its frequencies do not lie above those of {pa}; "
                "subband indices and frequencies disagree"
            )
    progress(f"merging {len(parts)} subbands into {ms_path.name}")
    _merge(parts, freqs, tmp)
    shutil.rmtree(parts_dir, ignore_errors=True)
    shutil.rmtree(ms_path, ignore_errors=True)
    tmp.rename(ms_path)
    t2 = time.perf_counter()
    return ConversionResult(
        ms_path=ms_path,
        header=header,
        pointing_ra_deg=ra_deg,
        pointing_dec_deg=dec_deg,
        field_name=name,
        n_chan=int(sum(f.size for f in freqs)),
        conversion_s=t1 - t0,
        concat_s=t2 - t1,
    )
