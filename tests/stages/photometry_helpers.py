"""A small field of catalog sources and a series of synthetic pb-corrected images of it,
recorded as the imaging stage records them (ms_index + images rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

from contimg.catalog.build import insert_sources
from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.queries import products as prq
from contimg.stages.base import StageContext
from tests.science.synth import make_image

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
    hdr = im.wcs.to_header()
    hdr["BMAJ"], hdr["BMIN"], hdr["BPA"] = (
        im.beam.major_arcsec / 3600,
        im.beam.minor_arcsec / 3600,
        im.beam.pa_deg,
    )
    hdr["PBRA"], hdr["PBDEC"] = RA0, DEC0
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"epoch{epoch:03d}-image-pb.fits"
    fits.PrimaryHDU(data=im.data, header=hdr).writeto(path, overwrite=True)
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
