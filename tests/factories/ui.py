"""A small simulated deployment for the dashboard's end-to-end tests.

``python tests/factories/ui.py HOME`` creates the four databases under ``HOME`` (with
``contimg db init``) and fills them through the db Table objects with a simulated
day of DSA-110 operation, anchored on the current time:

* a sky of 40 catalog sources around one drift-scan field (master catalog rows
  with their HEALPix index, so cone searches and overlays find them);
* 30 observation groups over the last 30 hours: 24 completed (with 16 subband
  files and per-stage timings each), 2 failed with their error, 1 in progress,
  2 pending and 1 still collecting;
* one real FITS image per completed group (Gaussian sources of the restoring beam
  at their epoch's flux density, plus thermal noise), its ms_index and images rows;
* forced-photometry rows for every source in every image (simulated truth plus
  noise of the image rms), variability statistics computed by
  :func:`contimg.science.variability.stats_from_scratch`, and ESE candidates for
  the sources the science rules flag (one source carries a 35 % ESE-like dip,
  one a flare);
* four calibration sets (one covering now, one expired, one inactive, one older);
* two mosaics (FITS, noise-weighted mean of their images) with PNG thumbnails.

``python tests/factories/ui.py HOME --add-group`` adds one new pending group now (the
live-update test uses it to see a page change without reload).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time
from astropy.utils import iers

from contimg.catalog.build import insert_sources
from contimg.config import get_settings
from contimg.db import cal_registry, ingest, products
from contimg.db.engine import Databases
from contimg.science.stretch import render_png
from contimg.science.variability import stats_from_scratch

iers.conf.auto_download = False

REPO = Path(__file__).resolve().parents[2]
CONTIMG = REPO / ".venv" / "bin" / "contimg"

FIELD_RA_DEG = 180.0
FIELD_DEC_DEG = 40.0
N_PIX = 400
CELL_ARCSEC = 12.0
BEAM_MAJ_ARCSEC = 36.0
BEAM_MIN_ARCSEC = 26.0
BEAM_PA_DEG = 20.0
RMS_JY = 0.0008
FREQ_GHZ = 1.405
BW_MHZ = 187.5
GROUP_S = 309.0
N_GROUPS = 30
MJD_UNIX0 = 40587.0

ESE_SOURCE = 3  # index of the source with the ESE-like dip
FLARE_SOURCE = 7  # index of the source with a flare


def unix_to_mjd(t: float) -> float:
    return t / 86400.0 + MJD_UNIX0


def nvss_name(ra_deg: float, dec_deg: float) -> str:
    """An NVSS-style name ``NVSS Jhhmmss.s+ddmmss`` for a position."""
    h = (ra_deg % 360.0) / 15.0
    hh = int(h)
    mm = int((h - hh) * 60)
    ss = ((h - hh) * 60 - mm) * 60
    sign = "+" if dec_deg >= 0 else "-"
    d = abs(dec_deg)
    dd = int(d)
    dm = int((d - dd) * 60)
    ds = round(((d - dd) * 60 - dm) * 60)
    if ds == 60:
        ds, dm = 0, dm + 1
    return f"NVSS J{hh:02d}{mm:02d}{ss:04.1f}{sign}{dd:02d}{dm:02d}{ds:02d}"


@dataclass
class Source:
    source_id: str
    ra_deg: float
    dec_deg: float
    flux_mjy: float

    def flux_at(self, i: int, n: int) -> float:
        """True flux density (mJy) at epoch ``i`` of ``n``."""
        if self.source_id == SKY[ESE_SOURCE].source_id and n // 2 - 3 <= i < n // 2 + 4:
            return self.flux_mjy * 0.65
        if self.source_id == SKY[FLARE_SOURCE].source_id and i == n - 3:
            return self.flux_mjy * 1.8
        return self.flux_mjy


def _sky() -> list[Source]:
    rng = np.random.default_rng(110)
    out = []
    for _ in range(40):
        r = 0.55 * math.sqrt(rng.uniform(0.0, 1.0))
        phi = rng.uniform(0, 2 * math.pi)
        dec = FIELD_DEC_DEG + r * math.sin(phi)
        ra = FIELD_RA_DEG + r * math.cos(phi) / math.cos(math.radians(dec))
        flux = float(10 ** rng.uniform(math.log10(15), math.log10(600)))
        out.append(Source(nvss_name(ra, dec), ra, dec, flux))
    out[ESE_SOURCE].flux_mjy = 180.0
    out[FLARE_SOURCE].flux_mjy = 90.0
    return out


SKY = _sky()


def wcs_header(centre_ra: float, centre_dec: float, n: int, mjd: float) -> fits.Header:
    h = fits.Header()
    h["CTYPE1"], h["CTYPE2"] = "RA---SIN", "DEC--SIN"
    h["CRVAL1"], h["CRVAL2"] = centre_ra, centre_dec
    h["CRPIX1"], h["CRPIX2"] = n / 2 + 0.5, n / 2 + 0.5
    h["CDELT1"], h["CDELT2"] = -CELL_ARCSEC / 3600, CELL_ARCSEC / 3600
    h["CUNIT1"], h["CUNIT2"] = "deg", "deg"
    h["BMAJ"], h["BMIN"], h["BPA"] = BEAM_MAJ_ARCSEC / 3600, BEAM_MIN_ARCSEC / 3600, BEAM_PA_DEG
    h["BUNIT"] = "JY/BEAM"
    h["RESTFRQ"] = FREQ_GHZ * 1e9
    h["MJD-OBS"] = mjd
    h["DATE-OBS"] = Time(mjd, format="mjd", scale="utc").isot
    h["TELESCOP"] = "DSA-110"
    h["OBJECT"] = "simulated"
    return h


def render_sky(epoch: int, n_epochs: int, rng: np.random.Generator, mjd: float) -> np.ndarray:
    """An image (Jy/beam), shape (N_PIX, N_PIX): Gaussian beams at the sources plus noise."""
    from astropy.wcs import WCS

    wcs = WCS(wcs_header(FIELD_RA_DEG, FIELD_DEC_DEG, N_PIX, mjd))
    yy, xx = np.mgrid[0:N_PIX, 0:N_PIX].astype(np.float64)
    img = rng.normal(0.0, RMS_JY, size=(N_PIX, N_PIX))
    sx = BEAM_MAJ_ARCSEC / CELL_ARCSEC / 2.3548
    sy = BEAM_MIN_ARCSEC / CELL_ARCSEC / 2.3548
    pa = math.radians(BEAM_PA_DEG + 90.0)  # major axis angle from +x (east is -x)
    ca, sa_ = math.cos(pa), math.sin(pa)
    for s in SKY:
        px, py = wcs.all_world2pix(s.ra_deg, s.dec_deg, 0)
        dx, dy = xx - float(px), yy - float(py)
        u = ca * dx + sa_ * dy
        v = -sa_ * dx + ca * dy
        img += s.flux_at(epoch, n_epochs) / 1e3 * np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
    return img.astype(np.float32)


def db_init(home: Path) -> None:
    subprocess.run(
        [str(CONTIMG), "--home", str(home), "db", "init"], check=True, capture_output=True
    )


def seed(home: Path) -> dict[str, object]:
    """Fill ``home``; return a summary (source ids, counts) for the tests."""
    db_init(home)
    settings = get_settings(home=home)
    dbs = Databases(settings)
    rng = np.random.default_rng(2026)
    now = time.time()
    products_dir = settings.products_path
    (products_dir / "images").mkdir(parents=True, exist_ok=True)
    (products_dir / "mosaics").mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------- master catalog
    insert_sources(
        dbs.master_sources,
        [
            {
                "source_id": s.source_id,
                "ra_deg": s.ra_deg,
                "dec_deg": s.dec_deg,
                "s_nvss": s.flux_mjy / 1e3,
                "snr_nvss": s.flux_mjy / 0.45,
                "s_vlass": s.flux_mjy / 1e3 * (3.0 / 1.4) ** -0.7,
                "alpha": -0.7,
                "resolved_flag": 0,
                "confusion_flag": 0,
            }
            for s in SKY
        ],
    )

    # ------------------------------------------------------------- groups
    states = ["completed"] * N_GROUPS
    for i, st in ((5, "failed"), (17, "failed"), (N_GROUPS - 4, "in_progress")):
        states[i] = st
    states[N_GROUPS - 3] = "pending"
    states[N_GROUPS - 2] = "pending"
    states[N_GROUPS - 1] = "collecting"
    t0 = now - N_GROUPS * 3600.0
    completed: list[tuple[str, float]] = []
    with dbs.ingest.write() as conn:
        for g in range(N_GROUPS):
            received = t0 + g * 3600.0 + rng.uniform(0, 60)
            gid = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(received - 30.0))
            st = states[g]
            n_sb = 10 if st == "collecting" else 16
            has_cal = g % 8 == 0
            total = float(rng.uniform(140, 260))
            last = received + (total + 20 if st in ("completed", "failed") else 5.0)
            error = None
            if g == 5:
                error = (
                    f"calibration: no calibration set covers MJD {unix_to_mjd(received):.5f} "
                    "and none lies within 12 h: the group waits for a calibrator transit"
                )
            elif g == 17:
                error = f"imaging: wsclean exited with status 1 on {gid}.ms: out of disk space"
            conn.execute(
                ingest.ingest_queue.insert().values(
                    group_id=gid,
                    state=st,
                    received_at=received,
                    last_update=last,
                    expected_subbands=16,
                    has_calibrator=int(has_cal),
                    calibrators=json.dumps([{"name": "3C286", "sep_deg": 0.4}] if has_cal else []),
                    retry_count=3 if st == "failed" else 0,
                    error_message=error,
                )
            )
            for sb in range(n_sb):
                conn.execute(
                    ingest.subband_files.insert().values(
                        group_id=gid,
                        subband_idx=sb,
                        file_path=f"{settings.incoming_path}/{gid}_sb{sb:02d}.hdf5",
                        file_size=int(rng.integers(480, 520)) * 1_000_000,
                        discovered_at=received + sb * 0.7,
                    )
                )
            if st == "completed":
                parts = rng.dirichlet(np.ones(7)) * total
                conn.execute(
                    ingest.performance_metrics.insert().values(
                        group_id=gid,
                        writer_type="pyuvdata",
                        conversion_time=parts[0],
                        concat_time=parts[1],
                        k_solve_time=parts[2],
                        bp_solve_time=parts[3],
                        g_solve_time=parts[4],
                        imaging_time=parts[5],
                        photometry_time=parts[6],
                        total_time=total,
                        recorded_at=last,
                    )
                )
                completed.append((gid, received))

    # ------------------------------------------------------------- calibration
    mjd_now = unix_to_mjd(now)
    sets = [
        ("3C286_%.2f" % (mjd_now - 1.6), mjd_now - 1.6, mjd_now - 0.6, True),
        ("3C48_%.2f" % (mjd_now - 0.9), mjd_now - 0.9, mjd_now + 0.1, False),
        ("3C286_%.2f" % (mjd_now - 0.55), mjd_now - 0.55, mjd_now + 0.45, True),
        ("3C147_%.2f" % (mjd_now - 2.8), mjd_now - 2.8, mjd_now - 1.8, True),
    ]
    with dbs.cal_registry.write() as conn:
        for name, start, end, active in sets:
            for order, kind in enumerate(("K", "BP", "G")):
                conn.execute(
                    cal_registry.caltables.insert().values(
                        set_name=name,
                        path=f"{products_dir}/caltables/{name}.{kind.lower()}cal",
                        table_type=kind,
                        order_index=order,
                        valid_start_mjd=start,
                        valid_end_mjd=end,
                        created_at=(start - MJD_UNIX0) * 86400.0 + 600,
                        active=int(active),
                    )
                )

    # ------------------------------------------------------------- images + photometry
    n_ep = len(completed)
    fluxes: dict[str, list[tuple[float, float, float]]] = {s.source_id: [] for s in SKY}
    image_files: list[tuple[Path, float, np.ndarray]] = []
    with dbs.products.write() as conn:
        for e, (gid, received) in enumerate(completed):
            mjd = unix_to_mjd(received - 150.0)
            ms_path = f"{products_dir}/ms/{gid}.ms"
            img_path = products_dir / "images" / f"{gid}.pbcor.fits"
            data = render_sky(e, n_ep, rng, mjd)
            fits.PrimaryHDU(
                data, header=wcs_header(FIELD_RA_DEG, FIELD_DEC_DEG, N_PIX, mjd)
            ).writeto(img_path, overwrite=True)
            image_files.append((img_path, mjd, data))
            conn.execute(
                products.ms_index.insert().values(
                    path=ms_path,
                    start_mjd=mjd - GROUP_S / 2 / 86400,
                    end_mjd=mjd + GROUP_S / 2 / 86400,
                    mid_mjd=mjd,
                    processed_at=received + 200,
                    status="ok",
                    stage="photometry_complete",
                    stage_updated_at=received + 220,
                    cal_applied=1,
                    imagename=str(img_path),
                    field_name="J1200+40",
                    pointing_ra_deg=FIELD_RA_DEG,
                    pointing_dec_deg=FIELD_DEC_DEG,
                )
            )
            conn.execute(
                products.images.insert().values(
                    path=str(img_path),
                    ms_path=ms_path,
                    created_at=received + 200,
                    type="pbcor",
                    format="fits",
                    beam_major_arcsec=BEAM_MAJ_ARCSEC,
                    beam_minor_arcsec=BEAM_MIN_ARCSEC,
                    beam_pa_deg=BEAM_PA_DEG,
                    noise_jy=float(np.std(data[:40, :40])),
                    dynamic_range=float(np.max(data) / RMS_JY),
                    pbcor=1,
                    field_name="J1200+40",
                    center_ra_deg=FIELD_RA_DEG,
                    center_dec_deg=FIELD_DEC_DEG,
                    imsize_x=N_PIX,
                    imsize_y=N_PIX,
                    cellsize_arcsec=CELL_ARCSEC,
                    freq_ghz=FREQ_GHZ,
                    bandwidth_mhz=BW_MHZ,
                    integration_sec=GROUP_S,
                )
            )
            # the image's flux-scale error, divided out by normalisation (science.md 2)
            scale = float(rng.normal(1.0, 0.03))
            for s in SKY:
                true = s.flux_at(e, n_ep)
                err = math.hypot(RMS_JY * 1e3, 0.01 * true)
                meas = true + rng.normal(0, err)
                sep = math.degrees(
                    math.acos(
                        min(
                            1.0,
                            math.sin(math.radians(s.dec_deg))
                            * math.sin(math.radians(FIELD_DEC_DEG))
                            + math.cos(math.radians(s.dec_deg))
                            * math.cos(math.radians(FIELD_DEC_DEG))
                            * math.cos(math.radians(s.ra_deg - FIELD_RA_DEG)),
                        )
                    )
                )
                raw = (
                    {
                        "raw_peak_jyb": meas * scale / 1e3,
                        "raw_peak_err_jyb": err * scale / 1e3,
                        "norm_factor": scale,
                        "norm_factor_err": 0.005,
                    }
                    if "raw_peak_jyb" in products.photometry.c
                    else {}
                )
                conn.execute(
                    products.photometry.insert().values(
                        **raw,
                        image_path=str(img_path),
                        source_id=s.source_id,
                        ra_deg=s.ra_deg,
                        dec_deg=s.dec_deg,
                        nvss_flux_mjy=s.flux_mjy,
                        peak_jyb=meas / 1e3,
                        peak_err_jyb=err / 1e3,
                        snr=meas / err,
                        measured_at=received + 210,
                        mjd=mjd,
                        sep_from_center_deg=sep,
                        flags=0,
                    )
                )
                fluxes[s.source_id].append((mjd, meas, err))

        # variability statistics and ESE candidates (science.md sections 3 and 4)
        flagged: list[str] = []
        for s in SKY:
            pts = fluxes[s.source_id]
            st = stats_from_scratch([p[1] for p in pts], [p[2] for p in pts])
            conn.execute(
                products.variability_stats.insert().values(
                    source_id=s.source_id,
                    ra_deg=s.ra_deg,
                    dec_deg=s.dec_deg,
                    nvss_flux_mjy=s.flux_mjy,
                    n_obs=st.n_obs,
                    mean_flux_mjy=st.mean_flux_mjy,
                    std_flux_mjy=st.std_flux_mjy,
                    min_flux_mjy=st.min_flux_mjy,
                    max_flux_mjy=st.max_flux_mjy,
                    chi2_nu=st.chi2_nu,
                    sigma_deviation=st.sigma_deviation,
                    eta_metric=st.eta_metric,
                    last_measured_at=completed[-1][1] + 210,
                    last_mjd=pts[-1][0],
                    updated_at=now,
                )
            )
            sig = st.sigma_deviation or 0.0
            if sig >= 5 and (st.chi2_nu or 0.0) >= 3 and st.n_obs >= 5:
                conn.execute(
                    products.ese_candidates.insert().values(
                        source_id=s.source_id,
                        flagged_at=completed[-1][1] + 215,
                        flagged_by="auto",
                        significance=sig,
                        flag_type="variability",
                        status="active",
                    )
                )
                flagged.append(s.source_id)
        # Two already-triaged candidates, so the status filter has something to show.
        for k, (status, note) in enumerate(
            (
                ("investigated", "scintillation ruled out; follow-up requested"),
                ("dismissed", "sidelobe"),
            )
        ):
            s = SKY[10 + k]
            conn.execute(
                products.ese_candidates.insert().values(
                    source_id=s.source_id,
                    flagged_at=now - 86400 * (2 + k),
                    flagged_by="astronomer@dsa110.example",
                    significance=4.2 - k,
                    flag_type="user",
                    notes=note,
                    status=status,
                    investigated_at=now - 86400,
                    dismissed_at=now - 80000 if status == "dismissed" else None,
                )
            )

        # ------------------------------------------------------------- mosaics
        for m, sl in enumerate((slice(0, 12), slice(12, None))):
            chunk = image_files[sl]
            stack = np.stack([c[2] for c in chunk])
            weights = 1.0 / np.array([np.std(c[2][:40, :40]) ** 2 for c in chunk])
            mosaic = np.tensordot(weights, stack, axes=1) / weights.sum()
            noise = float(1.0 / math.sqrt(weights.sum()))
            start, end = chunk[0][1], chunk[-1][1]
            name = f"J1200+40_{start:.2f}-{end:.2f}"
            path = products_dir / "mosaics" / f"{name}.fits"
            thumb = products_dir / "mosaics" / f"{name}.png"
            fits.PrimaryHDU(
                mosaic.astype(np.float32),
                header=wcs_header(FIELD_RA_DEG, FIELD_DEC_DEG, N_PIX, start),
            ).writeto(path, overwrite=True)
            thumb.write_bytes(render_png(mosaic, max_size_px=512))
            conn.execute(
                products.mosaics.insert().values(
                    path=str(path),
                    name=name,
                    created_at=now - (1 - m) * 3600,
                    start_mjd=start,
                    end_mjd=end,
                    integration_sec=GROUP_S * len(chunk),
                    n_images=len(chunk),
                    center_ra_deg=FIELD_RA_DEG,
                    center_dec_deg=FIELD_DEC_DEG,
                    dec_min_deg=FIELD_DEC_DEG - N_PIX * CELL_ARCSEC / 7200,
                    dec_max_deg=FIELD_DEC_DEG + N_PIX * CELL_ARCSEC / 7200,
                    noise_jy=noise,
                    beam_major_arcsec=BEAM_MAJ_ARCSEC,
                    beam_minor_arcsec=BEAM_MIN_ARCSEC,
                    beam_pa_deg=BEAM_PA_DEG,
                    n_sources=len(SKY),
                    thumbnail_path=str(thumb),
                )
            )
    dbs.dispose()
    return {
        "home": str(home),
        "n_groups": N_GROUPS,
        "n_images": n_ep,
        "n_sources": len(SKY),
        "ese_source": SKY[ESE_SOURCE].source_id,
        "flare_source": SKY[FLARE_SOURCE].source_id,
        "flagged": flagged,
    }


def add_group(home: Path) -> tuple[str, float]:
    """Insert one new pending group now; return its id and the Unix time of the insert."""
    settings = get_settings(home=home)
    dbs = Databases(settings)
    now = time.time()
    gid = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    with dbs.ingest.write() as conn:
        conn.execute(
            ingest.ingest_queue.insert().values(
                group_id=gid,
                state="pending",
                received_at=now,
                last_update=now,
                expected_subbands=16,
            )
        )
    dbs.dispose()
    return gid, now


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "home", type=Path, help="Deployment home to create (must not hold databases yet)."
    )
    p.add_argument("--add-group", action="store_true", help="Only add one new pending group.")
    args = p.parse_args(argv)
    if args.add_group:
        gid, at = add_group(args.home)
        print(json.dumps({"group_id": gid, "inserted_at": at}))
        return 0
    if (args.home / "state").exists():
        print(
            f"seed: {args.home} already holds a deployment; use a fresh directory", file=sys.stderr
        )
        return 1
    print(json.dumps(seed(args.home), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
