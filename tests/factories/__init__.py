"""Factories shared by the test suite: linked database rows and FITS images.

- :func:`group_id`, :func:`source_id`, :func:`populate`: a few linked rows in every
  spec table (the foreign keys respected);
- :func:`write_synth_fits`: a FITS file of a :class:`tests.factories.images.SynthImage`
  (its WCS and restoring beam in the header);
- :class:`Field`, :func:`make_field`, :func:`write_epoch`, :func:`context`: a small
  field of catalog sources and a series of synthetic pb-corrected images of it,
  recorded as the imaging stage records them (ms_index + images rows);
- :func:`write_tiny_uvh5`, :func:`write_group`, :func:`group_timestamps`,
  :func:`queue_pending_groups`: tiny but valid UVH5 headers on disk (exactly what the
  ingest check reads, ``Header/time_array``, ``Header/freq_array``,
  ``Header/extra_keywords/phase_center_dec``, plus a few other UVH5 header fields
  and a one-sample ``Data/visdata``: a few kB per file), and queued groups;
- :func:`nvss_table`, :func:`first_table`, :func:`vlass_table`,
  :func:`write_catalog`: small survey catalogue files in the published layouts (NVSS
  VIII/65, FIRST VIII/92 14dec17, VLASS Epoch 1 QL components), written with
  astropy.table as FITS (with TUNIT), CSV (no units) or VOTable (with units).

(The realistic pyuvdata-made groups of the stage tests are :mod:`tests.stages.groups`.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.table import Table

from contimg.catalog.build import insert_sources
from contimg.catalog.readers import iau_names
from contimg.config import Settings
from contimg.db import cal_registry, ingest, master_sources, products
from contimg.db.engine import Databases
from contimg.db.queries import products as prq
from contimg.ingest.names import TIMESTAMP_FORMAT, subband_file_name
from contimg.stages.base import StageContext
from contimg.telescope import DSA110
from tests.factories.images import SynthImage, make_image

# ------------------------------------------------------------- database rows

GROUP_T0_UNIX = 1_759_363_200.0
"""2025-10-02T00:00:00 UTC: group 0 of :func:`group_id`."""


def group_id(i: int, *, t0_unix: float = GROUP_T0_UNIX, step_s: float = 309.0) -> str:
    """A canonical group id ``i`` groups (``step_s`` each) after ``t0_unix``."""
    return datetime.fromtimestamp(t0_unix + step_s * i, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def source_id(i: int) -> str:
    return f"NVSS J00{i:02d}00.0+540000"


def populate(dbs: Databases, *, n_groups: int = 3, n_sources: int = 4) -> None:
    """Fill every spec table with a few linked rows."""
    with dbs.ingest.write() as conn:
        for g in range(n_groups):
            gid = group_id(g)
            conn.execute(
                ingest.ingest_queue.insert().values(
                    group_id=gid,
                    state="completed" if g else "failed",
                    received_at=1.7e9 + g,
                    last_update=1.7e9 + g + 1,
                    calibrators="[]",
                    error_message=None if g else "boom",
                )
            )
            for sb in range(16):
                conn.execute(
                    ingest.subband_files.insert().values(
                        group_id=gid,
                        subband_idx=sb,
                        file_path=f"/in/{gid}_sb{sb:02d}.hdf5",
                        file_size=1000 + sb,
                        discovered_at=1.7e9 + g,
                    )
                )
            conn.execute(
                ingest.performance_metrics.insert().values(
                    group_id=gid, writer_type="pyuvdata", total_time=12.5, recorded_at=1.7e9 + g
                )
            )
    with dbs.cal_registry.write() as conn:
        for i, kind in enumerate(("K", "BP", "G")):
            conn.execute(
                cal_registry.caltables.insert().values(
                    set_name="3C286_60950.1",
                    path=f"/cal/3C286_60950.1.{kind}",
                    table_type=kind,
                    order_index=i,
                    valid_start_mjd=60950.0,
                    valid_end_mjd=60951.0,
                    created_at=1.7e9,
                )
            )
    with dbs.master_sources.write() as conn:
        for s in range(n_sources):
            conn.execute(
                master_sources.sources.insert().values(
                    source_id=source_id(s),
                    ra_deg=10.0 + s,
                    dec_deg=54.0,
                    s_nvss=0.05 * (s + 1),
                    snr_nvss=20.0 + s,
                )
            )
    with dbs.products.write() as conn:
        for g in range(n_groups):
            ms = f"/products/{group_id(g)}.ms"
            conn.execute(
                products.ms_index.insert().values(
                    path=ms, mid_mjd=60950.0 + g * 309 / 86400, stage="imaged", status="ok"
                )
            )
            img = f"/products/{group_id(g)}.pbcor.fits"
            conn.execute(
                products.images.insert().values(
                    path=img, ms_path=ms, created_at=1.7e9 + g, type="pbcor", noise_jy=0.001
                )
            )
            for s in range(n_sources):
                conn.execute(
                    products.photometry.insert().values(
                        image_path=img,
                        source_id=source_id(s),
                        ra_deg=10.0 + s,
                        dec_deg=54.0,
                        peak_jyb=0.05 * (s + 1) * (1 + 0.01 * g),
                        peak_err_jyb=0.001,
                        snr=50.0,
                        measured_at=1.7e9 + g,
                        mjd=60950.0 + g * 309 / 86400,
                    )
                )
        for s in range(n_sources):
            conn.execute(
                products.variability_stats.insert().values(
                    source_id=source_id(s),
                    ra_deg=10.0 + s,
                    dec_deg=54.0,
                    n_obs=n_groups,
                    updated_at=1.7e9,
                )
            )
        conn.execute(
            products.ese_candidates.insert().values(
                source_id=source_id(0),
                flagged_at=1.7e9,
                significance=7.5,
                flag_type="variability",
            )
        )
        conn.execute(
            products.mosaics.insert().values(
                path="/products/mosaics/m1.fits",
                name="m1",
                created_at=1.7e9,
                start_mjd=60950.0,
                end_mjd=60950.1,
                integration_sec=3600.0,
            )
        )


# ------------------------------------------------------------- FITS images, photometry field


def write_synth_fits(path: Path, im: SynthImage, *, cube: bool = False, **cards: Any) -> Path:
    """``im`` as a FITS image: its WCS, its beam (BMAJ/BMIN/BPA) and ``cards``;
    ``cube``: 4-D, with WSClean's two degenerate leading axes."""
    hdr = im.wcs.to_header()
    hdr["BMAJ"], hdr["BMIN"], hdr["BPA"] = (
        im.beam.major_arcsec / 3600,
        im.beam.minor_arcsec / 3600,
        im.beam.pa_deg,
    )
    for key, value in cards.items():
        hdr[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    data = im.data[None, None] if cube else im.data
    fits.PrimaryHDU(data=data, header=hdr).writeto(path, overwrite=True)
    return path


N_PIX = 256
CELL = 3.0
RA0, DEC0 = 150.0, 40.0


@dataclass
class Field:
    ids: list[str]
    pos_px: np.ndarray
    flux_jy: np.ndarray
    ra_deg: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dec_deg: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dip_id: str = ""
    faint_id: str = ""


def make_field(dbs: Databases, *, n_ref: int = 30, seed: int = 0) -> Field:
    """``n_ref`` bright steady references, one non-reference source that will dip, one
    source below the flux limit."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_ref + 2)))
    step = (N_PIX - 40) / side
    gy, gx = np.mgrid[0:side, 0:side]
    pos = np.column_stack([20 + (gx.ravel() + 0.5) * step, 20 + (gy.ravel() + 0.5) * step])
    pos = pos[: n_ref + 2] + rng.uniform(-3, 3, (n_ref + 2, 2))
    flux = np.concatenate([rng.uniform(0.1, 0.3, n_ref), [0.2, 0.002]])
    ids = [f"NVSS J{k:04d}" for k in range(n_ref + 2)]
    f = Field(ids=ids, pos_px=pos, flux_jy=flux, dip_id=ids[n_ref], faint_id=ids[n_ref + 1])
    im = make_image(
        n_pix=N_PIX,
        cell_arcsec=CELL,
        ra_deg=RA0,
        dec_deg=DEC0,
        positions_px=pos,
        fluxes_jyb=flux,
        seed=seed,
    )
    f.ra_deg, f.dec_deg = im.ra_deg, im.dec_deg
    rows = []
    for k, sid in enumerate(ids):
        rows.append(
            {
                "source_id": sid,
                "ra_deg": float(f.ra_deg[k]),
                "dec_deg": float(f.dec_deg[k]),
                "s_nvss": float(flux[k]),
                "snr_nvss": 100.0 if k < n_ref else 8.0,
                "resolved_flag": 0,
                "confusion_flag": 0,
            }
        )
    insert_sources(dbs.master_sources, rows)
    return f


def write_epoch(
    dbs: Databases, workdir: Path, f: Field, *, epoch: int, scale: float, dip: float = 1.0
) -> tuple[Path, float]:
    """FITS image of epoch ``epoch`` (flux scale ``scale``; the dip source times ``dip``)
    with its ms_index and images rows. Returns (path, mid_mjd)."""
    flux = f.flux_jy * scale
    flux[f.ids.index(f.dip_id)] *= dip
    im = make_image(
        n_pix=N_PIX,
        cell_arcsec=CELL,
        ra_deg=RA0,
        dec_deg=DEC0,
        positions_px=f.pos_px,
        fluxes_jyb=flux,
        seed=1000 + epoch,
    )
    path = write_synth_fits(workdir / f"epoch{epoch:03d}-image-pb.fits", im, PBRA=RA0, PBDEC=DEC0)
    mid = 60000.0 + epoch
    ms_path = str(workdir / f"epoch{epoch:03d}.ms")
    with dbs.products.write() as conn:
        prq.upsert_ms(
            conn,
            row={
                "path": ms_path,
                "mid_mjd": mid,
                "start_mjd": mid - 0.002,
                "end_mjd": mid + 0.002,
                "stage": "imaged",
                "status": "ok",
            },
        )
        prq.replace_images(
            conn,
            ms_path=ms_path,
            rows=[
                {
                    "path": str(path),
                    "ms_path": ms_path,
                    "created_at": 1.7e9,
                    "type": "pbcor",
                    "pbcor": 1,
                    "beam_major_arcsec": im.beam.major_arcsec,
                }
            ],
        )
    return path, mid


def context(
    settings: Settings,
    dbs: Databases,
    workdir: Path,
    *,
    epoch: int,
    artifacts: dict[str, object] | None = None,
) -> StageContext:
    return StageContext(
        settings=settings,
        dbs=dbs,
        group_id=f"epoch{epoch:03d}",
        subband_paths={},
        workdir=workdir,
        artifacts=dict(artifacts or {}),
    )


# ------------------------------------------------------------- UVH5 files, queue

GROUP_SPACING_S = 309.0


def write_tiny_uvh5(
    path: Path, *, timestamp: str, subband_idx: int, dec_deg: float = 54.57, n_times: int = 4
) -> Path:
    """Write a minimal UVH5 file for subband ``subband_idx`` starting at ``timestamp``."""
    import h5py

    start = datetime.strptime(timestamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    jd0 = start.timestamp() / 86400.0 + 2440587.5
    times = jd0 + np.arange(n_times) * DSA110.integration_s / 86400.0
    freqs = DSA110.subband_channel_freqs_hz(subband_idx, 4)
    with h5py.File(path, "w") as fh:
        hdr = fh.create_group("Header")
        hdr["time_array"] = times
        hdr["freq_array"] = freqs
        hdr["Nfreqs"] = freqs.size
        hdr["Ntimes"] = n_times
        hdr["Nblts"] = n_times
        hdr["Npols"] = 4
        hdr["telescope_name"] = np.bytes_("OVRO_MMA")
        extra = hdr.create_group("extra_keywords")
        extra["phase_center_dec"] = math.radians(dec_deg)
        fh.create_group("Data")["visdata"] = np.zeros((n_times, freqs.size, 4), dtype=np.complex64)
    return path


def group_timestamps(first: str, n_groups: int, *, spacing_s: float = GROUP_SPACING_S) -> list[str]:
    start = datetime.strptime(first, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    return [
        (start + timedelta(seconds=round(i * spacing_s))).strftime(TIMESTAMP_FORMAT)
        for i in range(n_groups)
    ]


def write_group(
    directory: Path,
    timestamp: str,
    *,
    subbands: Sequence[int] = range(16),
    jitter_s: Sequence[int] | None = None,
    dec_deg: float = 54.57,
) -> list[Path]:
    """Write the subband files of one group; ``jitter_s[i]`` shifts file i's timestamp."""
    directory.mkdir(parents=True, exist_ok=True)
    start = datetime.strptime(timestamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    paths = []
    for i, sb in enumerate(subbands):
        shift = jitter_s[i] if jitter_s is not None else 0
        stamp = (start + timedelta(seconds=shift)).strftime(TIMESTAMP_FORMAT)
        paths.append(
            write_tiny_uvh5(
                directory / subband_file_name(stamp, sb),
                timestamp=stamp,
                subband_idx=sb,
                dec_deg=dec_deg,
            )
        )
    return paths


def queue_pending_groups(db, n: int, *, first: str = "2025-10-02T00:00:00") -> list[str]:  # type: ignore[no-untyped-def]
    """Put ``n`` complete groups straight into the queue as ``pending`` (their file
    paths need not exist: for worker tests whose stages do not read them)."""
    import time

    from contimg.db.queries import ingest as iq

    ids = group_timestamps(first, n)
    now = time.time()
    with db.write() as conn:
        for k, gid in enumerate(ids):
            iq.create_group(conn, group_id=gid, expected_subbands=16, now=now + k * 1e-3)
            for sb in range(16):
                iq.add_subband(
                    conn,
                    group_id=gid,
                    subband_idx=sb,
                    path=f"/nonexistent/{subband_file_name(gid, sb)}",
                    size=1,
                    now=now,
                )
            iq.set_state(conn, group_id=gid, state="pending", now=now + k * 1e-3)
    return ids


# ------------------------------------------------------------- survey catalogues


def _col(
    values: Sequence[float] | np.ndarray, unit: u.UnitBase | None = None
) -> u.Quantity | np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    return arr * unit if unit is not None else arr


def nvss_table(
    ra_deg: Sequence[float],
    dec_deg: Sequence[float],
    flux_mjy: Sequence[float],
    err_mjy: Sequence[float] | float = 0.5,
    *,
    names: Sequence[str] | None = None,
    with_names: bool = True,
) -> Table:
    n = len(ra_deg)
    err = np.broadcast_to(np.asarray(err_mjy, dtype=np.float64), (n,))
    t = Table()
    if with_names:
        t["NVSS"] = list(names) if names is not None else iau_names(ra_deg, dec_deg)
    t["RAJ2000"] = _col(ra_deg, u.deg)
    t["DEJ2000"] = _col(dec_deg, u.deg)
    t["S1.4"] = _col(flux_mjy, u.mJy)
    t["e_S1.4"] = _col(err, u.mJy)
    t["MajAxis"] = _col(np.full(n, 45.0), u.arcsec)
    t["MinAxis"] = _col(np.full(n, 45.0), u.arcsec)
    t["PA"] = _col(np.zeros(n), u.deg)
    return t


def first_table(
    ra_deg: Sequence[float],
    dec_deg: Sequence[float],
    maj_arcsec: Sequence[float],
    min_arcsec: Sequence[float] | None = None,
    pa_deg: Sequence[float] | None = None,
    fint_mjy: Sequence[float] | None = None,
) -> Table:
    n = len(ra_deg)
    mn = np.asarray(min_arcsec if min_arcsec is not None else np.zeros(n), dtype=np.float64)
    pa = np.asarray(pa_deg if pa_deg is not None else np.zeros(n), dtype=np.float64)
    fint = np.asarray(fint_mjy if fint_mjy is not None else np.full(n, 10.0), dtype=np.float64)
    t = Table()
    t["FIRST"] = [f"J{x}" for x in iau_names(ra_deg, dec_deg)]
    t["RAJ2000"] = _col(ra_deg, u.deg)
    t["DEJ2000"] = _col(dec_deg, u.deg)
    t["Fpeak"] = fint * 0.9 * u.Unit("mJy/beam")
    t["Fint"] = _col(fint, u.mJy)
    t["Rms"] = np.full(n, 0.15) * u.Unit("mJy/beam")
    t["Maj"] = _col(maj_arcsec, u.arcsec)
    t["Min"] = _col(mn, u.arcsec)
    t["PA"] = _col(pa, u.deg)
    t["fMaj"] = _col(np.asarray(maj_arcsec, dtype=np.float64) + 5.4, u.arcsec)
    t["fMin"] = _col(mn + 5.4, u.arcsec)
    t["fPA"] = _col(pa, u.deg)
    return t


def vlass_table(
    ra_deg: Sequence[float], dec_deg: Sequence[float], total_flux_mjy: Sequence[float]
) -> Table:
    n = len(ra_deg)
    flux = np.asarray(total_flux_mjy, dtype=np.float64)
    t = Table()
    t["Component_name"] = [f"VLASS1QLCIR J{x}" for x in iau_names(ra_deg, dec_deg)]
    t["RA"] = _col(ra_deg, u.deg)
    t["DEC"] = _col(dec_deg, u.deg)
    t["Total_flux"] = _col(flux, u.mJy)
    t["E_Total_flux"] = _col(np.full(n, 0.2), u.mJy)
    t["Peak_flux"] = flux * 0.9 * u.Unit("mJy/beam")
    t["E_Peak_flux"] = np.full(n, 0.15) * u.Unit("mJy/beam")
    t["Maj"] = _col(np.full(n, 2.5), u.arcsec)
    t["Min"] = _col(np.full(n, 2.5), u.arcsec)
    t["PA"] = _col(np.zeros(n), u.deg)
    return t


def write_catalog(table: Table, path: Path) -> Path:
    """Write ``table`` in the format its suffix names (.fits, .csv, .vot)."""
    suffix = path.suffix.lower()
    if suffix == ".fits":
        table.write(path, format="fits", overwrite=True)
    elif suffix == ".csv":
        table.write(path, format="ascii.csv", overwrite=True)
    elif suffix in (".vot", ".xml"):
        table.write(path, format="votable", overwrite=True)
    else:
        raise ValueError(f"unknown suffix {suffix}")
    return path
