"""Driving WSClean 3.1 (Debian's ``/usr/bin/wsclean``).

Settings: the w-gridder (``imaging.gridder``) with baseline-dependent averaging
(``imaging.baseline_averaging``), Briggs robust 0, auto-mask 5 (dsa110.md
says 3; docs/imaging.md, "Noise", says why not), auto-threshold 0.5, mgain 0.8,
Stokes I, ``-reorder`` (harmless for our single-window MS, needed for multi-window
input). Cell and size come from ``ImagingSettings`` (a preset or explicit values).
The image of ~3.5 deg a side covers the primary beam beyond its FWHM.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from contimg.config import ImagingSettings
from contimg.errors import ContimgError

PRESET_GRID: dict[str, tuple[int, float]] = {
    "ci": (4096, 3.0),
    "demo": (4096, 3.0),
    "full": (4096, 3.0),
}
"""Preset -> (pixels a side, cell arcsec). The simulator's scaled-down presets keep the
array's extent (fewer antennas of the same T), hence the real synthesised beam
(Briggs 0: ~25" x 12" at Dec 52): every preset needs cells of 3" (4 cells across the
minor axis) and 4096 of them for the 3.4 deg field beyond the primary-beam FWHM (bright
sources outside the image would leave undeconvolved sidelobes in it). CLEAN puts its
components on pixel centres, so a source between pixels is split and its restored peak
under-reads: measured on 40 simulated sources, the beam-fitted peak was 4.5 % low at 6"
cells (worst 8 %), 3 % at 3" and 2 % at 2-2.5" (docs/imaging.md). WSClean's time grows
far less than the pixel count (gridding the visibilities dominates): one ci group took
33-34 s at 4096 x 3" against 18-21 s at 2048 x 6" on a quiet machine (47 s against 39 s
under load)."""


@dataclass(frozen=True)
class WscleanProducts:
    image: Path
    residual: Path
    model: Path
    psf: Path
    size_px: int
    cell_arcsec: float
    log: Path


def grid_for(settings: ImagingSettings) -> tuple[int, float]:
    """(pixels a side, cell arcsec): explicit settings win over the preset."""
    size, cell = PRESET_GRID[settings.preset]
    return settings.size_px or size, settings.cell_arcsec or cell


def wsclean_command(
    settings: ImagingSettings,
    *,
    ms_path: Path,
    prefix: Path,
    data_column: str,
    mask: Path | None = None,
) -> list[str]:
    """The WSClean command line for ``ms_path`` writing ``<prefix>-*.fits``; with
    ``mask`` (a FITS image on WSClean's grid) CLEAN works inside it instead of finding
    its own mask."""
    size, cell = grid_for(settings)
    masking = (
        ["-fits-mask", str(mask)] if mask is not None else ["-auto-mask", f"{settings.auto_mask:g}"]
    )
    gridder = ["-use-wgridder"] if settings.gridder == "wgridder" else []
    if settings.baseline_averaging > 0:
        gridder += ["-baseline-averaging", f"{settings.baseline_averaging:g}"]
    return [
        settings.wsclean_executable,
        "-name", str(prefix),
        "-size", str(size), str(size),
        "-scale", f"{cell}asec",
        "-weight", "briggs", f"{settings.robust:g}",
        *masking,
        "-auto-threshold", f"{settings.auto_threshold:g}",
        "-mgain", f"{settings.mgain:g}",
        "-niter", str(settings.niter),
        "-pol", "I",
        "-data-column", data_column,
        "-reorder",
        "-no-update-model-required",
        "-j", str(settings.threads),
        *gridder,
        "-quiet",
        str(ms_path),
    ]  # fmt: skip


def run_wsclean(
    settings: ImagingSettings,
    *,
    ms_path: Path,
    prefix: Path,
    data_column: str,
    mask: Path | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> WscleanProducts:
    """Image ``ms_path`` with WSClean; products are ``<prefix>-image.fits`` etc.

    Raises
    ------
    ContimgError
        WSClean is missing or fails (the message quotes the end of its log).
    """
    exe = settings.wsclean_executable
    if shutil.which(exe) is None:
        raise ContimgError(f"WSClean not found at {exe!r} (setting imaging.wsclean_executable)")
    for old in prefix.parent.glob(prefix.name + "-*"):
        old.unlink()
    cmd = wsclean_command(
        settings, ms_path=ms_path, prefix=prefix, data_column=data_column, mask=mask
    )
    log = prefix.with_name(prefix.name + ".wsclean.log")
    progress(f"imaging {ms_path.name} with WSClean ({data_column})")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    with log.open("w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise ContimgError(
            f"WSClean failed on {ms_path} (exit {proc.returncode}): {' | '.join(tail)} "
            f"(full log: {log})"
        )
    size, cell = grid_for(settings)
    out = WscleanProducts(
        image=Path(f"{prefix}-image.fits"),
        residual=Path(f"{prefix}-residual.fits"),
        model=Path(f"{prefix}-model.fits"),
        psf=Path(f"{prefix}-psf.fits"),
        size_px=size,
        cell_arcsec=cell,
        log=log,
    )
    for p in (out.image, out.residual):
        if not p.is_file():
            raise ContimgError(f"WSClean finished but did not write {p} (log: {log})")
    return out
