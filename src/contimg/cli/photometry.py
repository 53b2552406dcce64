"""``contimg photometry``: forced photometry of chosen positions on a FITS image."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from contimg.errors import ContimgError

app = typer.Typer(
    help="Forced photometry (peak flux at fixed positions, calibrated errors).",
    no_args_is_help=True,
)

OUTPUT_FIELDS = ("source_id", "ra_deg", "dec_deg", "peak_jyb", "peak_err_jyb", "snr", "flags")


def read_sources_csv(path: Path) -> list[tuple[str, float, float]]:
    """Rows (source_id, ra_deg, dec_deg) of a CSV with those three columns."""
    if not path.is_file():
        raise ContimgError(f"sources file {path} does not exist")
    out: list[tuple[str, float, float]] = []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        need = {"source_id", "ra_deg", "dec_deg"}
        have = set(reader.fieldnames or [])
        if not need <= have:
            raise ContimgError(
                f"{path}: needs columns source_id, ra_deg, dec_deg; found "
                f"{', '.join(sorted(have)) or 'none'}"
            )
        for line, row in enumerate(reader, start=2):
            try:
                ra, dec = float(row["ra_deg"]), float(row["dec_deg"])
            except (TypeError, ValueError):
                raise ContimgError(
                    f"{path} line {line}: ra_deg/dec_deg must be numbers, got "
                    f"{row['ra_deg']!r}, {row['dec_deg']!r}"
                ) from None
            if not (-90.0 <= dec <= 90.0):
                raise ContimgError(f"{path} line {line}: dec_deg {dec} is outside [-90, 90]")
            out.append((str(row["source_id"]), ra % 360.0, dec))
    return out


@app.command()
def measure(
    image: Annotated[Path, typer.Option("--image", help="FITS image (needs BMAJ/BMIN/BPA).")],
    sources: Annotated[
        Path, typer.Option("--sources", help="CSV with columns source_id, ra_deg, dec_deg.")
    ],
    fmt: Annotated[
        Literal["json", "csv"], typer.Option("--format", help="Output format (to stdout).")
    ] = "json",
    blend_radius_beams: Annotated[
        float, typer.Option(help="Fit sources closer than this many beam majors jointly.")
    ] = 1.5,
) -> None:
    """Measure the peak flux density (Jy/beam) at each CSV position on IMAGE.

    No database is touched. Flag bits are described in docs/photometry.md
    (1 edge, 2 blanked, 4 blended, 8 below PB, 16 not normalised, 32 fit failed).
    """
    import math

    from contimg.imaging.fits import read_fits_image
    from contimg.science.photometry import forced_photometry

    rows = read_sources_csv(sources)
    img = read_fits_image(image)
    res = forced_photometry(
        img.data,
        img.wcs,
        img.beam,
        [r[1] for r in rows],
        [r[2] for r in rows],
        blend_radius_beams=blend_radius_beams,
    )
    snr = res.snr

    def num(v: float) -> float | None:
        return float(v) if math.isfinite(v) else None

    out = [
        {
            "source_id": sid,
            "ra_deg": ra,
            "dec_deg": dec,
            "peak_jyb": num(res.peak_jyb[i]),
            "peak_err_jyb": num(res.peak_err_jyb[i]),
            "snr": num(snr[i]),
            "flags": int(res.flags[i]),
        }
        for i, (sid, ra, dec) in enumerate(rows)
    ]
    if fmt == "json":
        typer.echo(json.dumps(out, indent=1))
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(OUTPUT_FIELDS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(out)
