"""A small, linked deployment for the API tests: rows in all four databases
(written with the Table objects) and real FITS files in the products directory."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

from contimg.catalog.build import insert_sources
from contimg.config import Settings
from contimg.db import cal_registry, ingest, products
from contimg.db.engine import Databases
from tests.factories import group_id

T0 = 1.764e9
"""Unix seconds of the first group (2025-11-24)."""
MJD0 = 61003.0
RA0, DEC0 = 150.0, 40.0
CELL_DEG = 20.0 / 3600.0
N_PIX = 64
STATES = ["collecting", "pending", "in_progress", "processing_fresh", "completed", "failed"]


def gid(i: int) -> str:
    return group_id(i, t0_unix=T0, step_s=300)


def sid(i: int) -> str:
    return f"NVSS J1000{i:02d}.0+400000"


def write_fits(path: Path, *, ra_deg: float = RA0, dec_deg: float = DEC0) -> None:
    """A 4-axis 64x64 WSClean-like image with three point sources (Jy/beam)."""
    rng = np.random.default_rng(1)
    data = rng.normal(0.0, 1e-3, (N_PIX, N_PIX)).astype(np.float32)
    yy, xx = np.mgrid[0:N_PIX, 0:N_PIX]
    for x0, y0, amp in [(32, 32, 0.5), (20, 40, 0.1), (45, 15, 0.05)]:
        data += amp * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * 1.5**2))
    data[0:3, 0:3] = np.nan  # a blanked corner
    hdr = fits.Header()
    hdr["CTYPE1"], hdr["CRVAL1"], hdr["CDELT1"], hdr["CRPIX1"] = "RA---SIN", ra_deg, -CELL_DEG, 33
    hdr["CTYPE2"], hdr["CRVAL2"], hdr["CDELT2"], hdr["CRPIX2"] = "DEC--SIN", dec_deg, CELL_DEG, 33
    hdr["CTYPE3"], hdr["CRVAL3"], hdr["CDELT3"], hdr["CRPIX3"] = "FREQ", 1.4e9, 1.8e8, 1
    hdr["CTYPE4"], hdr["CRVAL4"], hdr["CDELT4"], hdr["CRPIX4"] = "STOKES", 1, 1, 1
    hdr["BUNIT"] = "JY/BEAM"
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(data=data[None, None], header=hdr).writeto(path, overwrite=True)


def pixel_sky(x: float, y: float) -> tuple[float, float]:
    """Sky position of a pixel of :func:`write_fits`' image."""
    from astropy.wcs import WCS

    hdr = fits.Header()
    hdr["CTYPE1"], hdr["CRVAL1"], hdr["CDELT1"], hdr["CRPIX1"] = "RA---SIN", RA0, -CELL_DEG, 33
    hdr["CTYPE2"], hdr["CRVAL2"], hdr["CDELT2"], hdr["CRPIX2"] = "DEC--SIN", DEC0, CELL_DEG, 33
    ra, dec = WCS(hdr).wcs_pix2world([x], [y], 0)
    return float(ra[0]), float(dec[0])


@dataclass
class Deployment:
    settings: Settings
    groups: list[str] = field(default_factory=list)
    image_ids: list[int] = field(default_factory=list)
    image_paths: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    candidate_ids: list[int] = field(default_factory=list)
    mosaic_ids: list[int] = field(default_factory=list)
    n_photometry: int = 0


def populate(dbs: Databases, settings: Settings, *, n_groups: int = 12) -> Deployment:
    """Fill the four databases (and the products directory) with linked rows."""
    dep = Deployment(settings=settings)
    prod = settings.products_path
    # ------------------------------------------------------------------ ingest
    with dbs.ingest.write() as conn:
        for i in range(n_groups):
            g = gid(i)
            dep.groups.append(g)
            state = STATES[i % len(STATES)]
            conn.execute(
                ingest.ingest_queue.insert().values(
                    group_id=g,
                    state=state,
                    received_at=T0 + 300 * i,
                    last_update=T0 + 300 * i + 200,
                    expected_subbands=16,
                    has_calibrator=i % 2,
                    calibrators=json.dumps([{"name": "3C286"}]) if i % 2 else "[]",
                    retry_count=1 if state == "failed" else 0,
                    error_message="wsclean exited with 1" if state == "failed" else None,
                    lease_owner="worker-a" if state == "in_progress" else None,
                    lease_expires_at=T0 + 1e6 if state == "in_progress" else None,
                    heartbeat_at=T0 + 300 * i if state == "in_progress" else None,
                )
            )
            n_sb = 10 if state == "collecting" else 16
            for sb in range(n_sb):
                conn.execute(
                    ingest.subband_files.insert().values(
                        group_id=g,
                        subband_idx=sb,
                        file_path=f"/incoming/{g}_sb{sb:02d}.hdf5",
                        file_size=1_000_000 + sb,
                        discovered_at=T0 + 300 * i + sb,
                    )
                )
            if state == "completed":
                conn.execute(
                    ingest.performance_metrics.insert().values(
                        group_id=g,
                        writer_type="pyuvdata",
                        conversion_time=30.0 + i,
                        concat_time=2.0,
                        k_solve_time=1.0,
                        bp_solve_time=3.0,
                        g_solve_time=2.0,
                        imaging_time=60.0,
                        photometry_time=5.0,
                        total_time=103.0 + i,
                        recorded_at=T0 + 300 * i + 200,
                    )
                )
        for k, (status, reason) in enumerate([("accepted", None), ("rejected", "bad header")]):
            conn.execute(
                ingest.ingest_files.insert().values(
                    file_path=f"/incoming/{gid(0)}_sb{k:02d}.hdf5",
                    file_name=f"{gid(0)}_sb{k:02d}.hdf5",
                    subband_idx=k,
                    obs_time=T0,
                    file_size=1_000_000,
                    stable_count=2,
                    status=status,
                    reason=reason,
                    group_id=gid(0) if status == "accepted" else None,
                    first_seen_at=T0 + k,
                    last_checked_at=T0 + 10 + k,
                )
            )
    # ------------------------------------------------------------ cal registry
    with dbs.cal_registry.write() as conn:
        for k, (name, start, end, active) in enumerate(
            [
                ("cal_3c286_a", MJD0 - 1, MJD0 + 1, 1),
                ("cal_3c286_b", MJD0 - 0.5, MJD0 + 2, 1),
                ("cal_old", MJD0 - 10, MJD0 - 5, 0),
            ]
        ):
            for order, ttype in enumerate(["K", "BP", "G"]):
                conn.execute(
                    cal_registry.caltables.insert().values(
                        set_name=name,
                        path=f"/cal/{name}.{ttype}",
                        table_type=ttype,
                        order_index=order,
                        valid_start_mjd=start,
                        valid_end_mjd=end,
                        created_at=T0 + k,
                        active=active,
                    )
                )
    # ------------------------------------------------------------ master sources
    positions = [pixel_sky(32, 32), pixel_sky(20, 40), pixel_sky(45, 15), (RA0 + 3, DEC0)]
    insert_sources(
        dbs.master_sources,
        [
            {
                "source_id": sid(i),
                "ra_deg": ra,
                "dec_deg": dec,
                "s_nvss": [0.5, 0.1, 0.05, 0.02][i],
                "snr_nvss": [500, 100, 50, 20][i],
                "alpha": -0.7,
            }
            for i, (ra, dec) in enumerate(positions)
        ],
    )
    # ------------------------------------------------------------------ products
    n_images = 6
    with dbs.products.write() as conn:
        for k in range(n_images):
            ms = str(prod / "ms" / f"{gid(k)}.ms")
            conn.execute(
                products.ms_index.insert().values(
                    path=ms,
                    start_mjd=MJD0 + k * 0.0035,
                    end_mjd=MJD0 + (k + 1) * 0.0035,
                    mid_mjd=MJD0 + (k + 0.5) * 0.0035,
                    processed_at=T0 + 300 * k,
                    status="ok",
                    stage="photometry_complete",
                    stage_updated_at=T0 + 300 * k,
                    cal_applied=1,
                    field_name="J1000+40",
                    pointing_ra_deg=RA0,
                    pointing_dec_deg=DEC0,
                )
            )
            path = prod / "images" / f"{gid(k)}-image-pb.fits"
            write_fits(path)
            res = conn.execute(
                products.images.insert().values(
                    path=str(path),
                    ms_path=ms,
                    created_at=T0 + 300 * k + 100,
                    type="pbcor",
                    beam_major_arcsec=45.0,
                    beam_minor_arcsec=40.0,
                    noise_jy=1e-3 * (1 + 0.1 * k),
                    dynamic_range=500.0,
                    pbcor=1,
                    field_name="J1000+40",
                    center_ra_deg=RA0,
                    center_dec_deg=DEC0,
                    imsize_x=N_PIX,
                    imsize_y=N_PIX,
                    cellsize_arcsec=20.0,
                    freq_ghz=1.4,
                    bandwidth_mhz=187.5,
                    integration_sec=309.0,
                )
            )
            pk = res.inserted_primary_key
            assert pk is not None
            dep.image_ids.append(int(pk[0]))
            dep.image_paths.append(str(path))
        # photometry: source 0 steady, source 1 with a dip (ESE-like), 2 noisy
        for i, (ra, dec) in enumerate(positions[:3]):
            dep.sources.append(sid(i))
            fluxes = []
            for k in range(n_images):
                base = [0.5, 0.1, 0.05][i]
                flux = base * (0.5 if (i == 1 and k in (3, 4)) else 1.0)
                fluxes.append(flux * 1000)
                conn.execute(
                    products.photometry.insert().values(
                        image_path=dep.image_paths[k],
                        source_id=sid(i),
                        ra_deg=ra,
                        dec_deg=dec,
                        nvss_flux_mjy=base * 1000,
                        peak_jyb=flux,
                        peak_err_jyb=0.001,
                        snr=flux / 0.001,
                        measured_at=T0 + 300 * k + 150,
                        mjd=MJD0 + (k + 0.5) * 0.0035,
                        sep_from_center_deg=0.1,
                        flags=0,
                    )
                )
                dep.n_photometry += 1
            f = np.array(fluxes)
            s = np.full_like(f, 1.0)
            w = 1 / s**2
            mu = float(np.sum(w * f) / np.sum(w))
            chi2 = float(np.sum(w * (f - mu) ** 2) / (len(f) - 1))
            conn.execute(
                products.variability_stats.insert().values(
                    source_id=sid(i),
                    ra_deg=ra,
                    dec_deg=dec,
                    nvss_flux_mjy=[500.0, 100.0, 50.0][i],
                    n_obs=len(f),
                    mean_flux_mjy=float(f.mean()),
                    std_flux_mjy=float(f.std(ddof=1)),
                    min_flux_mjy=float(f.min()),
                    max_flux_mjy=float(f.max()),
                    chi2_nu=chi2,
                    sigma_deviation=float(np.max(np.abs(f - mu) / s)),
                    eta_metric=chi2,
                    last_measured_at=T0 + 300 * (n_images - 1) + 150,
                    last_mjd=MJD0 + (n_images - 0.5) * 0.0035,
                    updated_at=T0 + 2000,
                )
            )
        for i, (status, sig) in enumerate([("active", 33.3), ("investigated", 7.0)]):
            res = conn.execute(
                products.ese_candidates.insert().values(
                    source_id=sid(1) if i == 0 else sid(2),
                    flagged_at=T0 + 1000 + i,
                    flagged_by="auto",
                    significance=sig,
                    flag_type="variability",
                    notes=None,
                    status=status,
                    investigated_at=T0 + 1500 if status == "investigated" else None,
                )
            )
            pk = res.inserted_primary_key
            assert pk is not None
            dep.candidate_ids.append(int(pk[0]))
        for m in range(2):
            path = prod / "mosaics" / f"mosaic_{m}.fits"
            write_fits(path)
            thumb = None
            res = conn.execute(
                products.mosaics.insert().values(
                    path=str(path),
                    name=f"J1000+40 hour {m}",
                    created_at=T0 + 4000 + m,
                    start_mjd=MJD0 + m / 24,
                    end_mjd=MJD0 + (m + 1) / 24,
                    integration_sec=3600.0,
                    n_images=12,
                    center_ra_deg=RA0,
                    center_dec_deg=DEC0,
                    dec_min_deg=DEC0 - 1,
                    dec_max_deg=DEC0 + 1,
                    noise_jy=3e-4,
                    n_sources=3,
                    thumbnail_path=thumb,
                )
            )
            pk = res.inserted_primary_key
            assert pk is not None
            dep.mosaic_ids.append(int(pk[0]))
    return dep
