"""Flux recovery of the imaging chain across the primary beam, on a noiseless sky.

Two consecutive ``ci`` groups (two pointings 1.25 deg of RA apart) of a sky made only
of isolated sources (a grid 0.2 deg apart, spectral index -0.7: point sources of 500
and 100 mJy, and every fourth one a 500 mJy Gaussian of 20-40" x 8-15", as FIRST
resolves 8 % of NVSS sources) are simulated
with ``--no-noise --no-corrupt``, converted
(``contimg.conversion.ms.convert_group``), imaged with the pipeline's WSClean
command, primary-beam corrected (``contimg.imaging.products.pb_correct``) and
measured with the pipeline's forced photometry at the true positions. With no noise
and no calibration, whatever differs from the truth is the imaging chain's own:
CLEAN, gridding, averaging, the beam model.

The truth of each source is the value a perfect chain would give: the
time-and-channel average of ``S(nu) A(theta(t), nu)`` (the simulator's own Airy beam
and spectrum) divided by the beam the pipeline corrects with. The benchmark prints,
per bin of primary-beam response, the median of measured / truth of the point
sources and the robust scatter between them (1.4826 MAD); then, for every source
measured from both pointings, the scatter of the ratio of its two fluxes: what a
light curve that mixes the two pointings sees. Divided by sqrt(2) it is the flux
error one pointing gives a source; the two point-source fluxes split it into an
additive part (confusion: the rms map holds it) and a multiplicative one
(``photometry.pointing_systematic``):

    .venv/bin/python benchmarks/imaging_flux_bench.py                 # pipeline settings
    .venv/bin/python benchmarks/imaging_flux_bench.py --variants all  # + the alternatives

``--variants all`` adds: CLEAN's own mask instead of the catalogue's (``auto-mask``, the
pipeline before 2026-12-03), no baseline-dependent averaging, 2" cells (6144 px, the same
field), a field twice as wide (8192 px), CLEAN deeper (auto-threshold 0.1, auto-mask
3) or with a smaller major-cycle gain (0.5), and wideband deconvolution (4 output
channels, a 2-term spectral fit). About 2 minutes a variant on 2 cores. The figures
are in docs/photometry.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "bench-output" / "imaging-flux"
PB_BINS = ((0.9, 1.01), (0.75, 0.9), (0.6, 0.75), (0.45, 0.6), (0.3, 0.45), (0.2, 0.3))


@dataclass(frozen=True)
class Variant:
    name: str
    imaging: dict[str, Any]
    extra_args: tuple[str, ...] = ()


VARIANTS = {
    "pipeline": Variant("pipeline", {}),
    "auto-mask": Variant("auto-mask", {"clean_mask": "auto"}),
    "no-bl-avg": Variant("no-bl-avg", {"baseline_averaging": 0.0}),
    "cell-2as": Variant("cell-2as", {"cell_arcsec": 2.0, "size_px": 6144}),
    "field-x2": Variant("field-x2", {"size_px": 8192}),
    "deep-clean": Variant(
        "deep-clean", {"clean_mask": "auto", "auto_threshold": 0.1, "auto_mask": 3.0}
    ),
    "mgain-0.5": Variant("mgain-0.5", {"mgain": 0.5}),
    "wideband": Variant(
        "wideband", {}, ("-channels-out", "4", "-join-channels", "-fit-spectral-pol", "2")
    ),
}


def build_sky(
    cat_dir: Path,
    *,
    ra0: float,
    dec0: float,
    spacing_deg: float,
    half_x_deg: float,
    half_y_deg: float,
    flux_mjy: float,
    epoch_mjd: float,
) -> int:
    """A grid of isolated sources around (ra0, dec0), every fourth a Gaussian of random
    size and position angle; returns how many."""
    from contimg.sim.catalogs import write_catalogs
    from contimg.sim.sky import inject_source
    from contimg.sim.skymodel import Component, Sky

    rng = np.random.default_rng(11)
    sky = Sky(
        centre_ra_deg=ra0,
        centre_dec_deg=dec0,
        radius_deg=half_x_deg + 0.5,
        seed=0,
        epoch_mjd=epoch_mjd,
        span_days=1.0,
        sources=[],
    )
    rot = np.radians(7.0)  # a slightly rotated grid: sources do not share pixel phases
    n = int(max(half_x_deg, half_y_deg) * 1.5 / spacing_deg)
    k = 0
    for i in range(-n, n + 1):
        for j in range(-n, n + 1):
            dx, dy = i * spacing_deg, j * spacing_deg
            dx, dy = dx * np.cos(rot) - dy * np.sin(rot), dx * np.sin(rot) + dy * np.cos(rot)
            if abs(dx) > half_x_deg or abs(dy) > half_y_deg:
                continue
            dec = dec0 + dy
            ra = ra0 + dx / np.cos(np.radians(dec))
            k += 1
            # point sources alternate between flux_mjy and a fifth of it
            flux = flux_mjy if k % 4 == 0 or k % 2 == 1 else flux_mjy / 5.0
            src = inject_source(sky, ra_deg=ra, dec_deg=dec, flux_1400_mjy=flux, clear_arcsec=0.0)
            if k % 4 == 0:
                c = src.components[0]
                src.components = [
                    Component(
                        c.ra_deg,
                        c.dec_deg,
                        1.0,
                        float(rng.uniform(20, 40)),
                        float(rng.uniform(8, 15)),
                        float(rng.uniform(0, 180)),
                    )
                ]
    write_catalogs(sky, cat_dir)
    return len(sky.sources)


def truth_values(
    sources: list[dict[str, Any]], group: dict[str, Any], freqs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(apparent flux a perfect image holds, the pipeline's beam at fc) per source."""
    from contimg.science.mosaic import SIDEREAL_DEG_PER_DAY, drift_offsets_deg, drift_scan_beam
    from contimg.telescope import DSA110

    times = np.asarray(group["times_mjd"], dtype=np.float64)
    mid = float(group["mid_mjd"])
    ra = np.array([s["ra_deg"] for s in sources])
    dec = np.array([s["dec_deg"] for s in sources])
    kw = {
        "pointing_ra_deg": group["pointing_ra_deg"],
        "pointing_dec_deg": group["pointing_dec_deg"],
        "dish_diameter_m": DSA110.dish_diameter_m,
    }
    every = (times - mid) * SIDEREAL_DEG_PER_DAY
    app = np.zeros(ra.size)
    for f in freqs:
        spec = np.array([s["flux_1400_mjy"] / 1e3 * (f / 1.4e9) ** s["alpha"] for s in sources])
        app += spec * drift_scan_beam(ra, dec, ra_offsets_deg=every, freq_hz=float(f), **kw)
    app /= freqs.size
    dt = float(times[1] - times[0]) if times.size > 1 else 0.0
    offs = drift_offsets_deg(
        start_mjd=float(times[0]) - dt / 2, mid_mjd=mid, end_mjd=float(times[-1]) + dt / 2
    )
    pb = drift_scan_beam(ra, dec, ra_offsets_deg=offs, freq_hz=DSA110.centre_freq_hz, **kw)
    return app, pb


def image_and_measure(
    variant: Variant, ms: Path, prefix: Path, conv: Any, preset: str, sources: list[dict[str, Any]]
) -> dict[str, np.ndarray]:
    from astropy.io import fits
    from astropy.wcs import WCS

    from contimg.calibration.pointing import drift_pointings
    from contimg.config import ImagingSettings
    from contimg.imaging.mask import ms_mask_header, write_mask
    from contimg.imaging.products import pb_correct
    from contimg.imaging.wsclean import wsclean_command
    from contimg.science.photometry import beam_from_header, forced_photometry

    settings = ImagingSettings(preset=preset, **variant.imaging)
    h = conv.header
    pointings = drift_pointings(
        ra_deg=conv.pointing_ra_deg,
        dec_deg=conv.pointing_dec_deg,
        mid_mjd=h.mid_mjd,
        start_mjd=h.start_mjd,
        end_mjd=h.end_mjd,
    )
    mask = None
    if settings.clean_mask == "catalog":  # the pipeline's mask, the sky as its catalogue
        mask = Path(f"{prefix}.clean-mask.fits")
        write_mask(
            ms_mask_header(ms, settings), settings, pointings=pointings, out=mask,
            ra_deg=[s["ra_deg"] for s in sources], dec_deg=[s["dec_deg"] for s in sources],
            flux_mjy=[s["flux_1400_mjy"] for s in sources],
            major_arcsec=[s.get("maj_arcsec") or 0.0 for s in sources],
        )  # fmt: skip
    cmd = wsclean_command(settings, ms_path=ms, prefix=prefix, data_column="DATA", mask=mask)
    cmd = [*cmd[:-1], *variant.extra_args, cmd[-1]]
    t0 = time.perf_counter()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    with open(f"{prefix}.wsclean.log", "w") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT, env=env)
    secs = time.perf_counter() - t0
    image = Path(f"{prefix}-image.fits")
    if not image.is_file():
        image = Path(f"{prefix}-MFS-image.fits")
    pbcor = Path(f"{prefix}-pb.fits")
    pb_correct(image, pbcor, pointings=pointings, pb_cut=settings.pb_cut)
    with fits.open(pbcor) as hdul:
        header = hdul[0].header
        data = np.asarray(hdul[0].data, dtype=np.float64)
    while data.ndim > 2:
        data = data[0]
    res = forced_photometry(
        data,
        WCS(header).celestial,
        beam_from_header(header),
        [s["ra_deg"] for s in sources],
        [s["dec_deg"] for s in sources],
    )
    return {
        "peak": res.peak_jyb,
        "err": res.peak_err_jyb,
        "flags": res.flags,
        "seconds": np.array([secs]),
    }


def _robust(r: np.ndarray) -> tuple[float, float]:
    med = float(np.median(r))
    return med, 1.4826 * float(np.median(np.abs(r - med)))


def report(name: str, ratio: np.ndarray, pb: np.ndarray, ok: np.ndarray, secs: float) -> None:
    print(
        f"\n{name}: WSClean {secs:.0f} s per group; measured / truth of the 500 mJy point "
        "sources (both pointings)"
    )
    print(f"  {'beam response':<15}{'n':>5}{'median':>10}{'scatter':>10}{'worst':>10}")
    for lo, hi in PB_BINS:
        k = ok & (pb >= lo) & (pb < hi)
        if not k.any():
            continue
        med, mad = _robust(ratio[k])
        worst = float(ratio[k][np.argmax(np.abs(ratio[k] - med))])
        row = f"{k.sum():>5}{med:>10.4f}{mad:>10.4f}{worst:>10.4f}"
        print(f"  {lo:.2f}-{min(hi, 1.0):.2f}{'':<6}{row}")


def report_pairs(
    fa: np.ndarray,
    fb: np.ndarray,
    pb_a: np.ndarray,
    pb_b: np.ndarray,
    ok: np.ndarray,
    resolved: np.ndarray,
    truth_flux: np.ndarray,
    err_a: np.ndarray,
    err_b: np.ndarray,
) -> dict[str, float]:
    """Scatter of each source's flux ratio between the two pointings."""
    print(
        "  between the pointings (sources measured in both, the lower beam response "
        "binned): robust scatter of ln(f_A / f_B), / sqrt(2)"
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = np.log(fa / fb)
    low = np.minimum(pb_a, pb_b)
    bright = truth_flux >= 0.3
    out: dict[str, float] = {}
    kinds = (
        ("point 500", ~resolved & bright),
        ("point 100", ~resolved & ~bright),
        ("resolved", resolved),
    )
    bins = ((0.5, 1.01), (0.3, 0.5), (0.2, 0.3))
    sig: dict[tuple[str, float], float] = {}
    for label, kind in kinds:
        line = f"    {label:<10}"
        for lo, hi in bins:
            k = ok & kind & (low >= lo) & (low < hi)
            if k.sum() >= 5:
                _, mad = _robust(lr[k])
                sig[label, lo] = mad / np.sqrt(2)
                line += (
                    f"  pb {lo:.1f}-{min(hi, 1.0):.1f}: {100 * sig[label, lo]:.2f} % ({k.sum()})"
                )
                out[f"{label}_{lo:.1f}"] = float(sig[label, lo])
        print(line)
    # sigma^2 = a^2 + (m S)^2 at the two fluxes: an additive part a (Jy, the confusion an
    # rms map measures) and a multiplicative one m (what photometry.pointing_systematic is)
    print("  split (point sources, 500 and 100 mJy): additive a, multiplicative m")
    for lo, hi in bins:
        if ("point 500", lo) in sig and ("point 100", lo) in sig:
            v5 = (sig["point 500", lo] * 0.5) ** 2
            v1 = (sig["point 100", lo] * 0.1) ** 2
            m2 = max(0.0, (v5 - v1) / (0.25 - 0.01))
            a2 = max(0.0, v1 - 0.01 * m2)
            k = ok & ~resolved & (low >= lo) & (low < hi)
            rms = 1e3 * float(np.median(np.hypot(err_a[k], err_b[k]) / np.sqrt(2)))
            print(
                f"    pb {lo:.1f}-{min(hi, 1.0):.1f}: a = {1e3 * np.sqrt(a2):.1f} mJy "
                f"(the rms map's error: {rms:.1f} mJy), m = {100 * np.sqrt(m2):.2f} %"
            )
            out[f"additive_mjy_{lo:.1f}"] = float(1e3 * np.sqrt(a2))
            out[f"multiplicative_{lo:.1f}"] = float(np.sqrt(m2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--preset", default="ci", help="Simulator and imaging preset.")
    ap.add_argument("--start", default="2025-10-02T13:35:33", help="UTC start of the first group.")
    ap.add_argument("--dec", type=float, default=49.85, help="Pointing Dec (deg).")
    ap.add_argument("--spacing", type=float, default=0.2, help="Grid spacing (deg).")
    ap.add_argument(
        "--variants",
        default="pipeline",
        help=f"Comma-separated of {', '.join(VARIANTS)}, or 'all'.",
    )
    opts = ap.parse_args()
    names = list(VARIANTS) if opts.variants == "all" else opts.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if shutil.which("wsclean") is None:
        sys.exit("imaging_flux_bench: WSClean is not installed (make deps)")

    from astropy.time import Time
    from astropy.utils import iers

    iers.conf.auto_download = False
    from contimg.conversion.ms import convert_group
    from contimg.sim.astro import icrs_of_pointing
    from contimg.telescope import DSA110

    out: Path = opts.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    start = float(Time(opts.start, scale="utc").mjd)
    group_d = DSA110.group_duration_s / 86_400.0
    # The sky is centred between the two groups' pointings (1.25 deg of RA apart).
    ra0, dec0 = icrs_of_pointing(start + group_d, opts.dec)
    half_x = 1.75 + 0.5 * 1.25 * np.cos(np.radians(dec0))
    n = build_sky(
        out / "catalogs",
        ra0=ra0,
        dec0=dec0,
        spacing_deg=opts.spacing,
        half_x_deg=half_x,
        half_y_deg=1.75,
        flux_mjy=500.0,
        epoch_mjd=start - 1,
    )
    print(
        f"sky: {n} isolated sources of 500 and 100 mJy (alpha -0.7; every fourth resolved) "
        f"{opts.spacing} deg apart around RA {ra0:.3f} Dec {dec0:.3f}; preset {opts.preset}"
    )
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "contimg",
            "sim",
            "observe",
            "--out",
            str(out / "uvh5"),
            "--catalog-dir",
            str(out / "catalogs"),
            "--start",
            opts.start,
            "--groups",
            "2",
            "--dec",
            str(opts.dec),
            "--preset",
            opts.preset,
            "--no-noise",
            "--no-corrupt",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    groups = [json.loads(p.read_text()) for p in sorted((out / "uvh5" / "truth").glob("20*.json"))]
    convs = []
    for k, g in enumerate(groups):
        files = [out / "uvh5" / f for f in g["files"]]
        subbands = {int(m.group(1)): p for p in files if (m := re.search(r"_sb(\d\d)", p.name))}
        convs.append(convert_group(subbands, out / f"g{k}.ms", max_chan_width_hz=1e6))
    print(f"simulated and converted {len(groups)} groups in {time.perf_counter() - t0:.0f} s")

    from casacore.tables import table

    with table(str(out / "g0.ms" / "SPECTRAL_WINDOW"), ack=False) as spw:
        freqs = np.concatenate(list(spw.getcol("CHAN_FREQ")))
    sky = json.loads((out / "catalogs" / "sky_truth.json").read_text())["sources"]
    sources = [s for s in sky if s["calibrator"] is None]
    resolved = np.array([s["maj_arcsec"] > 0 for s in sources])
    flux_jy = np.array([s["flux_1400_mjy"] / 1e3 for s in sources])
    truths = [truth_values(sources, g, freqs) for g in groups]
    results: dict[str, Any] = {"sources": len(sources), "variants": {}}
    for name in names:
        meas = [
            image_and_measure(
                VARIANTS[name], out / f"g{k}.ms", out / f"{name}-g{k}", conv, opts.preset, sources
            )
            for k, conv in enumerate(convs)
        ]
        ratio = np.concatenate(
            [r["peak"] / (app / pb) for r, (app, pb) in zip(meas, truths, strict=True)]
        )
        pb_all = np.concatenate([pb for _, pb in truths])
        good = [
            (r["flags"] == 0) & (pb >= 0.2) & np.isfinite(r["peak"])
            for r, (_, pb) in zip(meas, truths, strict=True)
        ]
        ok = np.concatenate(good) & ~np.concatenate([resolved, resolved])
        ok &= np.concatenate([flux_jy, flux_jy]) >= 0.3  # the table: the 500 mJy ones
        secs = float(np.mean([r["seconds"][0] for r in meas]))
        report(name, ratio, pb_all, ok, secs)
        pairs = report_pairs(
            meas[0]["peak"],
            meas[1]["peak"],
            truths[0][1],
            truths[1][1],
            good[0] & good[1],
            resolved,
            flux_jy,
            meas[0]["err"],
            meas[1]["err"],
        )
        results["variants"][name] = {
            "pb": pb_all[ok].round(4).tolist(),
            "ratio": ratio[ok].round(5).tolist(),
            "wsclean_s": secs,
            "pointing_systematic": pairs,
        }
    (out / "results.json").write_text(json.dumps(results))
    print(f"\nper-source figures in {out / 'results.json'}")


if __name__ == "__main__":
    main()
