"""Driving DP3 (the PyPI build in the venv): flagging, solving K/BP/G, applying.

Every DP3 run is a separate process with ``OPENBLAS_NUM_THREADS=1``; solves
never write the MS, applies write ``CORRECTED_DATA`` (DATA is never modified).

The three tables (h5parm files) of a set:

* **K (delay-like)**: DP3's ddecal has no pure per-antenna delay solver that
  works here (its ``tec+phase+delay`` constraint exists but, over our 12 %
  fractional band, TEC, phase and delay are nearly degenerate: it converged to
  wrong minima for several antennas in our tests). K is therefore realised as a
  ``diagonalphase`` solution per channel and feed, constrained to be smooth in
  frequency (``smoothnessconstraint``, a kernel of ``K_SMOOTH_HZ``): a per-antenna
  phase-versus-frequency curve that captures delays (linear phase slopes) and
  constant phase offsets, but not channel-scale structure.
* **BP**: ``diagonal`` (complex, per feed), one solution per channel for the whole
  group, solved on K-corrected data.
* **G**: ``diagonal`` (complex, per feed), one solution over all channels per
  solution interval (default: the whole group), solved on K+BP-corrected data.

Apply order is K, BP, G (``order_index`` 0, 1, 2).

The three solves run on a small copy of the calibrator MS, phase-shifted to the
calibrator and averaged in time over the solution interval (:func:`solve_data`):
24 times less data per solver iteration for a whole-group solution, which is what
lets a full-size calibrator group be solved within its 309 s (docs/imaging.md).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contimg.calibration.calibrators import Calibrator
from contimg.errors import ContimgError
from contimg.science.beams import primary_beam_at
from contimg.telescope import DSA110

K_SMOOTH_HZ = 15e6
"""Smoothing kernel of the K (delay-like) phase solution, Hz."""
AOFLAGGER_STRATEGY = "jvla-default.lua"
"""AOFlagger strategy shipped in the DP3 wheel (an L-band interferometer's)."""
TABLE_TYPES = ("K", "BP", "G")
AVERAGE_ALL = 100_000
"""DP3 averager ``timestep`` that averages every integration of a group into one."""


def dp3_executable(configured: str | None = None) -> str:
    """The DP3 program: the configured one, else the venv's ``DP3``/``DP3.py``, else PATH."""
    if configured:
        if shutil.which(configured) is None:
            raise ContimgError(f"DP3 not found at {configured!r} (calibration.dp3_executable)")
        return configured
    bindir = Path(sys.executable).parent
    for name in ("DP3", "DP3.py"):
        cand = bindir / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    found = shutil.which("DP3")
    if found:
        return found
    raise ContimgError(
        "DP3 not found: install the 'dp3' package in this environment or set "
        "CONTIMG_CALIBRATION__DP3_EXECUTABLE"
    )


def aoflagger_strategy() -> Path | None:
    """Path of the AOFlagger strategy inside the DP3 wheel, if present."""
    import importlib.util

    spec = importlib.util.find_spec("dp3")
    if spec is None or spec.origin is None:
        return None
    libs = Path(spec.origin).resolve().parent.parent
    for cand in libs.glob("[Dd][Pp]3.libs/aoflagger/strategies/" + AOFLAGGER_STRATEGY):
        return cand
    return None


@dataclass
class Dp3Runner:
    """Runs DP3 with ``key=value`` arguments; logs go next to the MS."""

    executable: str
    log_dir: Path
    progress: Callable[[str], None] = lambda _m: None

    def run(self, label: str, args: Sequence[str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"dp3-{label}.log"
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        self.progress(f"DP3 {label}")
        with log.open("w") as fh:
            proc = subprocess.run(
                [self.executable, *args], stdout=fh, stderr=subprocess.STDOUT, env=env, check=False
            )
        if proc.returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-4:]
            raise ContimgError(
                f"DP3 {label} failed (exit {proc.returncode}): {' | '.join(tail)} (log: {log})"
            )


def apparent_model(
    cal: Calibrator, *, pointings: Sequence[tuple[float, float]]
) -> tuple[float, list[float]]:
    """Apparent flux of ``cal`` through the Airy beam, averaged over the group's drift.

    ``pointings``: ICRS (RA, Dec) degrees of the meridian pointing sampled over the
    group. Returns ``(flux at 1.4 GHz, [log-polynomial spectral terms])`` for a DP3 sky
    model with ``LogarithmicSI = true`` and reference frequency 1.4 GHz: the
    intrinsic spectrum times the time-averaged beam, fitted at 9 frequencies with
    a 3-term log polynomial (error < 0.1 % over the band).
    """
    freqs = np.linspace(DSA110.band_low_hz, DSA110.band_high_hz, 9)
    beam = np.zeros(freqs.size)
    for pra, pdec in pointings:
        beam += [
            float(
                primary_beam_at(
                    cal.ra_deg,
                    cal.dec_deg,
                    pointing_ra_deg=pra,
                    pointing_dec_deg=pdec,
                    freq_hz=float(f),
                    dish_diameter_m=DSA110.dish_diameter_m,
                )
            )
            for f in freqs
        ]
    beam /= len(pointings)
    flux = np.array([cal.flux_at(float(f)) for f in freqs]) * beam
    x = np.log10(freqs / 1.4e9)
    coeffs = np.polyfit(x, np.log10(flux), 3)[::-1]  # c0 + c1 x + c2 x^2 + c3 x^3
    return float(10 ** coeffs[0]), [float(c) for c in coeffs[1:]]


def write_skymodel(path: Path, cal: Calibrator, *, flux_jy: float, terms: list[float]) -> Path:
    """Write a one-source DP3 sky model (makesourcedb text format)."""
    ra_h = (cal.ra_deg % 360.0) / 15.0
    rh, rm = int(ra_h), int((ra_h * 60) % 60)
    rs = (ra_h * 3600) % 60
    sign = "-" if cal.dec_deg < 0 else "+"
    d = abs(cal.dec_deg)
    dd, dm = int(d), int((d * 60) % 60)
    ds = (d * 3600) % 60
    name = "".join(ch for ch in cal.name if ch.isalnum()) or "cal"
    si = ",".join(f"{t:.8f}" for t in terms)
    path.write_text(
        "FORMAT = Name, Type, Ra, Dec, I, SpectralIndex, LogarithmicSI, "
        "ReferenceFrequency='1400000000.0'\n"
        f"{name}, POINT, {rh:02d}:{rm:02d}:{rs:09.6f}, {sign}{dd:02d}.{dm:02d}.{ds:09.6f}, "
        f"{flux_jy:.6f}, [{si}], true, 1400000000.0\n"
    )
    return path


QUALITY_TABLES = (
    "QUALITY_KIND_NAME",
    "QUALITY_TIME_STATISTIC",
    "QUALITY_FREQUENCY_STATISTIC",
    "QUALITY_BASELINE_STATISTIC",
)
"""The statistics subtables AOFlagger writes into the MS it flags."""


def drop_quality_tables(ms: Path) -> list[str]:
    """Remove AOFlagger's statistics subtables from ``ms``; returns those removed.

    A flagging run killed while it wrote them (a worker stopped mid-task) leaves a
    subtable the main table does not know, and every later run on the MS fails with
    "RecordInterface: field QUALITY_KIND_NAME is unknown". The next run writes them
    afresh, so a retry can always start without them.
    """
    from casacore.tables import table

    removed: list[str] = []
    with table(str(ms), readonly=False, ack=False) as t:
        known = set(t.keywordnames())
        for name in QUALITY_TABLES:
            if name in known:
                t.removekeyword(name)
                removed.append(name)
    for name in QUALITY_TABLES:
        if (ms / name).exists():
            shutil.rmtree(ms / name)
            if name not in removed:
                removed.append(name)
    return removed


def flag(runner: Dp3Runner, ms: Path, *, aoflagger: bool) -> None:
    """Flag autocorrelations and (optionally) RFI with AOFlagger; writes FLAG (and
    AOFlagger's statistics subtables, replacing any a killed run left)."""
    if aoflagger:
        drop_quality_tables(ms)
    args = [f"msin={ms}", "msout=.", "pre.type=preflagger", "pre.corrtype=auto"]
    steps = ["pre"]
    if aoflagger:
        strategy = aoflagger_strategy()
        if strategy is None:
            raise ContimgError(
                f"AOFlagger strategy {AOFLAGGER_STRATEGY} not found in the DP3 installation; "
                "set calibration.aoflagger=false to flag without it"
            )
        args += ["ao.type=aoflagger", f"ao.strategy={strategy}"]
        steps.append("ao")
    runner.run("flag", [*args, f"steps=[{','.join(steps)}]"])


def _apply_args(tables: Sequence[tuple[str, Path]]) -> list[str]:
    """DP3 applycal steps for (type, h5parm) pairs in apply order."""
    steps: list[str] = []
    args: list[str] = []
    for kind, h5 in tables:
        step = f"apply{kind.lower()}"
        steps.append(step)
        args += [f"{step}.type=applycal", f"{step}.parmdb={h5}"]
        if kind == "K":
            args.append(f"{step}.correction=phase000")
        else:
            args += [
                f"{step}.steps=[amp,ph]",
                f"{step}.amp.correction=amplitude000",
                f"{step}.ph.correction=phase000",
            ]
    return [f"steps=[{','.join(steps)}]", *args]


def apply(runner: Dp3Runner, ms: Path, tables: Sequence[tuple[str, Path]], *, label: str) -> None:
    """Apply ``tables`` (in the order given) to DATA, writing CORRECTED_DATA."""
    if not tables:
        raise ContimgError(f"{ms}: no calibration tables to apply")
    args = [f"msin={ms}", "msin.datacolumn=DATA", "msout=.", "msout.datacolumn=CORRECTED_DATA"]
    runner.run(label, [*args, *_apply_args(tables)])


def _solve(
    runner: Dp3Runner,
    ms: Path,
    *,
    label: str,
    column: str,
    skymodel: Path,
    h5parm: Path,
    mode: str,
    nchan: int,
    solint: int,
    extra: Sequence[str] = (),
) -> None:
    h5parm.unlink(missing_ok=True)
    runner.run(
        label,
        [
            f"msin={ms}",
            f"msin.datacolumn={column}",
            "msout=",
            "steps=[solve]",
            "solve.type=ddecal",
            f"solve.mode={mode}",
            f"solve.sourcedb={skymodel}",
            f"solve.h5parm={h5parm}",
            f"solve.solint={solint}",
            f"solve.nchan={nchan}",
            "solve.maxiter=100",
            *extra,
        ],
    )
    if not h5parm.is_file():
        raise ContimgError(f"DP3 {label} finished without writing {h5parm}")


def solve_data(
    runner: Dp3Runner,
    ms: Path,
    out: Path,
    *,
    phase_centre_deg: tuple[float, float],
    timestep: int,
) -> Path:
    """Write ``out``: ``ms``'s DATA phase-shifted to the calibrator and averaged in time.

    After the shift the calibrator's visibilities are constant during the group (its
    apparent flux is already the drift-averaged one in the sky model), so averaging
    ``timestep`` integrations loses nothing of it, while other sources in the field
    decorrelate. Solving on this copy costs ``timestep`` times less per iteration
    than on the MS itself (measured on a demo transit: K in 10 s instead of 131 s, the
    solutions within 0.05 deg median, 0.33 deg at the 99th percentile).
    """
    ra, dec = phase_centre_deg
    shutil.rmtree(out, ignore_errors=True)
    runner.run(
        "average",
        [
            f"msin={ms}",
            "msin.datacolumn=DATA",
            f"msout={out}",
            "msout.overwrite=true",
            "steps=[shift,avg]",
            "shift.type=phaseshifter",
            f"shift.phasecenter=[{ra:.8f}deg,{dec:.8f}deg]",
            "avg.type=averager",
            f"avg.timestep={max(1, timestep)}",
        ],
    )
    if not out.is_dir():
        raise ContimgError(f"DP3 average finished without writing {out}")
    return out


def solve_set(
    runner: Dp3Runner,
    ms: Path,
    *,
    skymodel: Path,
    out_dir: Path,
    phase_centre_deg: tuple[float, float],
    g_solint: int = 0,
    timings: dict[str, float] | None = None,
) -> dict[str, Path]:
    """Solve K, then BP (on K-corrected data), then G (on K+BP-corrected data).

    The solves run on a copy of ``ms`` phase-shifted to the calibrator at
    ``phase_centre_deg`` (RA, Dec ICRS) and averaged in time (:func:`solve_data`):
    over the whole group, or over ``g_solint`` integrations when G has a shorter
    solution interval. ``ms`` itself is only read.

    Returns ``{"K": path, "BP": path, "G": path}`` (h5parm files in ``out_dir``).
    ``timings`` receives ``k_solve_time`` (with the averaged copy's writing),
    ``bp_solve_time`` and ``g_solve_time`` (the ``performance_metrics`` columns).

    The tables are solved in a private temporary directory and then moved into
    ``out_dir`` one by one with an atomic rename. Re-solving a transit (a retried or
    interrupted calibrator group) therefore never removes or half-writes a table that
    other workers, applying the registered set meanwhile, are opening.
    """
    import tempfile
    import time

    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".solve-", dir=out_dir))
    try:
        tmp = {kind: work / f"{kind}.h5" for kind in TABLE_TYPES}
        t0 = time.perf_counter()
        small = solve_data(
            runner, ms, work / "solve.ms", phase_centre_deg=phase_centre_deg,
            timestep=g_solint if g_solint > 0 else AVERAGE_ALL,
        )  # fmt: skip
        g_steps = 1 if g_solint > 0 else 0
        _solve(
            runner, small, label="solve-K", column="DATA", skymodel=skymodel, h5parm=tmp["K"],
            mode="diagonalphase", nchan=1, solint=0,
            extra=[f"solve.smoothnessconstraint={K_SMOOTH_HZ:.0f}"],
        )  # fmt: skip
        t1 = time.perf_counter()
        apply(runner, small, [("K", tmp["K"])], label="apply-K")
        _solve(
            runner, small, label="solve-BP", column="CORRECTED_DATA", skymodel=skymodel,
            h5parm=tmp["BP"], mode="diagonal", nchan=1, solint=0,
        )  # fmt: skip
        t2 = time.perf_counter()
        apply(runner, small, [("K", tmp["K"]), ("BP", tmp["BP"])], label="apply-K-BP")
        _solve(
            runner, small, label="solve-G", column="CORRECTED_DATA", skymodel=skymodel,
            h5parm=tmp["G"], mode="diagonal", nchan=0, solint=g_steps,
        )  # fmt: skip
        t3 = time.perf_counter()
        paths = {kind: out_dir / f"{kind}.h5" for kind in TABLE_TYPES}
        for kind in TABLE_TYPES:
            os.replace(tmp[kind], paths[kind])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if timings is not None:
        timings["k_solve_time"] = t1 - t0
        timings["bp_solve_time"] = t2 - t1
        timings["g_solve_time"] = t3 - t2
    return paths


def solint_steps(solve_int_s: float | None, integration_s: float) -> int:
    """DP3 ``solint`` (time steps) for a solution interval; 0 = the whole group."""
    if not solve_int_s:
        return 0
    return max(1, math.ceil(solve_int_s / integration_s))
