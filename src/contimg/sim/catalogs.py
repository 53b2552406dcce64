"""The NVSS-, FIRST- and VLASS-like catalogs made from a synthetic sky, and its truth.

:func:`write_catalogs` writes

- ``nvss.fits``: VizieR VIII/65 (NVSS, Condon et al. 1998) columns,
- ``first.fits``: VizieR VIII/92 (FIRST, 14dec17 release) columns,
- ``vlass.fits``: CIRADA VLASS Epoch 1 Quick Look component catalogue columns
  (Gordon et al. 2021),
- ``sky_truth.json``: the truth (see :func:`sky_to_dict`);

:func:`load_sky` reads the truth back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from contimg.errors import ContimgError
from contimg.sim import variability as var
from contimg.sim.skymodel import REF_FREQ_HZ, Component, Sky, SkySource, iau_name, offset, sep_deg

NVSS_BEAM_ARCSEC = 45.0
FIRST_BEAM_ARCSEC = 5.4
VLASS_BEAM_ARCSEC = 2.5
VLASS_FREQ_HZ = 3.0e9

TRUTH_FILE = "sky_truth.json"
CATALOG_FILES = {"nvss": "nvss.fits", "first": "first.fits", "vlass": "vlass.fits"}


@dataclass
class _Measured:
    nvss: list[dict[str, Any]]
    first: list[dict[str, Any]]
    vlass: list[dict[str, Any]]


def _measure(sky: Sky, rng: np.random.Generator) -> _Measured:
    """Catalog entries as each survey would have measured the true sky.

    Also fills every source's ``source_id`` ("NVSS J" + NVSS name).
    """
    nvss: list[dict[str, Any]] = []
    first: list[dict[str, Any]] = []
    vlass: list[dict[str, Any]] = []
    names: set[str] = set()
    for src in sky.sources:
        s = src.flux_1400_mjy
        # NVSS: 0.45 mJy/beam rms, 3 % scale scatter; position error ~ beam / (2 SNR).
        e_s = float(np.hypot(0.45, 0.03 * s))
        s_meas = max(float(s + rng.normal(0.0, e_s)), 0.5)
        pos_err = max(0.3, 0.5 * NVSS_BEAM_ARCSEC * 0.45 / s)
        while True:
            mra, mdec = offset(
                src.ra_deg, src.dec_deg, abs(rng.normal(0.0, pos_err)) / 3600.0, rng.uniform(0, 360)
            )
            name = iau_name(float(mra), float(mdec))
            if name not in names:
                break
        names.add(name)
        src.source_id = f"NVSS J{name}"
        # NVSS deconvolved size: resolved if the true extent is > ~1/3 of the beam.
        extent = _extent_arcsec(src)
        if extent[0] > 15.0:
            maj, mn, pa = (
                extent[0] * rng.normal(1, 0.05),
                extent[1] * rng.normal(1, 0.05),
                extent[2],
            )
        else:
            maj, mn, pa = np.nan, np.nan, np.nan
        nvss.append(
            {
                "NVSS": name,
                "RAJ2000": float(mra),
                "DEJ2000": float(mdec),
                "S1.4": round(s_meas, 1),
                "e_S1.4": round(e_s, 1),
                "MajAxis": maj,
                "MinAxis": mn,
                "PA": pa,
            }
        )
        for comp in src.components:
            _first_entry(rng, src, comp, first)
            _vlass_entry(rng, src, comp, vlass)
    return _Measured(nvss, first, vlass)


def _extent_arcsec(src: SkySource) -> tuple[float, float, float]:
    if len(src.components) == 1:
        c = src.components[0]
        return c.maj_arcsec, c.min_arcsec, c.pa_deg
    a, b = src.components[0], src.components[1]
    d = float(sep_deg(a.ra_deg, a.dec_deg, b.ra_deg, b.dec_deg)) * 3600.0
    return d, 0.0, 0.0


def _fitted(maj: float, mn: float, beam: float) -> tuple[float, float]:
    return float(np.hypot(maj, beam)), float(np.hypot(mn, beam))


def _first_entry(
    rng: np.random.Generator, src: SkySource, comp: Component, out: list[dict[str, Any]]
) -> None:
    if src.dec_deg <= -10.0:
        return  # FIRST covers Dec > -10 only
    rms = 0.15
    fint_true = src.flux_1400_mjy * comp.frac
    fmaj, fmin = _fitted(comp.maj_arcsec, comp.min_arcsec, FIRST_BEAM_ARCSEC)
    fpeak_true = fint_true * FIRST_BEAM_ARCSEC**2 / (fmaj * fmin)
    if fpeak_true < 1.0:  # FIRST threshold ~1 mJy/beam
        return
    fpeak = fpeak_true * rng.normal(1, 0.03) + rng.normal(0, rms)
    fint = fint_true * rng.normal(1, 0.03) + rng.normal(0, rms * fmaj / FIRST_BEAM_ARCSEC)
    pos = max(0.1, 0.5 * fmaj * rms / fpeak_true)
    ra, dec = offset(
        comp.ra_deg, comp.dec_deg, abs(rng.normal(0, pos)) / 3600.0, rng.uniform(0, 360)
    )
    maj = comp.maj_arcsec * float(rng.normal(1, 0.05)) if comp.maj_arcsec > 1.0 else 0.0
    mn = comp.min_arcsec * float(rng.normal(1, 0.05)) if comp.maj_arcsec > 1.0 else 0.0
    out.append(
        {
            "FIRST": "J" + iau_name(float(ra), float(dec)),
            "RAJ2000": float(ra),
            "DEJ2000": float(dec),
            "Fpeak": round(float(fpeak), 2),
            "Fint": round(float(fint), 2),
            "Rms": rms,
            "Maj": round(maj, 2),
            "Min": round(mn, 2),
            "PA": round(comp.pa_deg, 1) if maj > 0 else 0.0,
            "fMaj": round(fmaj, 2),
            "fMin": round(fmin, 2),
            "fPA": round(comp.pa_deg, 1),
        }
    )


def _vlass_entry(
    rng: np.random.Generator, src: SkySource, comp: Component, out: list[dict[str, Any]]
) -> None:
    if src.dec_deg <= -40.0:
        return  # VLASS covers Dec > -40
    rms = 0.14
    s3 = src.flux_1400_mjy * comp.frac * (VLASS_FREQ_HZ / REF_FREQ_HZ) ** src.alpha
    fmaj, fmin = _fitted(comp.maj_arcsec, comp.min_arcsec, VLASS_BEAM_ARCSEC)
    peak_true = s3 * VLASS_BEAM_ARCSEC**2 / (fmaj * fmin)
    if peak_true < 5 * rms:
        return
    e_peak = float(np.hypot(rms, 0.03 * peak_true))
    e_tot = e_peak * fmaj / VLASS_BEAM_ARCSEC
    peak = peak_true + rng.normal(0, e_peak)
    total = s3 + rng.normal(0, e_tot)
    pos = max(0.1, 0.5 * fmaj * rms / peak_true)
    ra, dec = offset(
        comp.ra_deg, comp.dec_deg, abs(rng.normal(0, pos)) / 3600.0, rng.uniform(0, 360)
    )
    resolved = comp.maj_arcsec > 0.5
    out.append(
        {
            "Component_name": "VLASS1QLCIR J"
            + iau_name(float(ra), float(dec), ra_dec=2, dec_dec=1),
            "RA": float(ra),
            "DEC": float(dec),
            "Total_flux": round(float(total), 3),
            "E_Total_flux": round(e_tot, 3),
            "Peak_flux": round(float(peak), 3),
            "E_Peak_flux": round(e_peak, 3),
            "Maj": round(comp.maj_arcsec * float(rng.normal(1, 0.05)), 2) if resolved else 0.0,
            "Min": round(comp.min_arcsec * float(rng.normal(1, 0.05)), 2) if resolved else 0.0,
            "PA": round(comp.pa_deg, 1) if resolved else 0.0,
        }
    )


_UNITS: dict[str, dict[str, str]] = {
    "nvss": {
        "RAJ2000": "deg", "DEJ2000": "deg", "S1.4": "mJy", "e_S1.4": "mJy",
        "MajAxis": "arcsec", "MinAxis": "arcsec", "PA": "deg",
    },
    "first": {
        "RAJ2000": "deg", "DEJ2000": "deg", "Fpeak": "mJy/beam", "Fint": "mJy",
        "Rms": "mJy/beam", "Maj": "arcsec", "Min": "arcsec", "PA": "deg",
        "fMaj": "arcsec", "fMin": "arcsec", "fPA": "deg",
    },
    "vlass": {
        "RA": "deg", "DEC": "deg", "Total_flux": "mJy", "E_Total_flux": "mJy",
        "Peak_flux": "mJy/beam", "E_Peak_flux": "mJy/beam", "Maj": "arcsec",
        "Min": "arcsec", "PA": "deg",
    },
}  # fmt: skip


_COLUMNS: dict[str, list[str]] = {
    "nvss": ["NVSS", "RAJ2000", "DEJ2000", "S1.4", "e_S1.4", "MajAxis", "MinAxis", "PA"],
    "first": ["FIRST", "RAJ2000", "DEJ2000", "Fpeak", "Fint", "Rms", "Maj", "Min", "PA",
              "fMaj", "fMin", "fPA"],
    "vlass": ["Component_name", "RA", "DEC", "Total_flux", "E_Total_flux", "Peak_flux",
              "E_Peak_flux", "Maj", "Min", "PA"],
}  # fmt: skip


def _write_table(rows: list[dict[str, Any]], survey: str, path: Path) -> None:
    import astropy.units as u
    from astropy.table import Table

    cols = _COLUMNS[survey]
    table = Table()
    for c in cols:
        values = [r[c] for r in rows]
        if c in _UNITS[survey]:
            table[c] = np.asarray(values, dtype=np.float64) * u.Unit(_UNITS[survey][c])
        else:
            table[c] = np.asarray(values, dtype=str) if values else np.asarray([], dtype="U16")
    table.meta["ORIGIN"] = "contimg sim catalogs (synthetic)"
    table.meta["MIMICS"] = {
        "nvss": "VizieR VIII/65/nvss (NVSS, Condon+ 1998)",
        "first": "VizieR VIII/92 (FIRST 14dec17 release)",
        "vlass": "CIRADA VLASS Epoch 1 QL components (Gordon+ 2021)",
    }[survey]
    tmp = path.with_name(f".{path.name}.tmp")
    table.write(tmp, format="fits", overwrite=True)
    os.replace(tmp, path)


def sky_to_dict(sky: Sky) -> dict[str, Any]:
    """The machine-readable truth: field, seed, and per source its true properties.

    Per source: ``source_id`` ("NVSS J..."), ``calibrator`` (name or null),
    ``ra_deg``/``dec_deg`` (J2000, true flux-weighted position), ``flux_1400_mjy``
    (true mean flux density at 1.4 GHz), ``alpha``, ``maj_arcsec`` (largest component
    FWHM, 0 for point sources), ``components`` (position, flux fraction, FWHM sizes,
    PA) and ``variability`` (a light curve, see :mod:`contimg.sim.variability`).
    """
    return {
        "format": "contimg-sim-sky/1",
        "field": {
            "ra_deg": sky.centre_ra_deg,
            "dec_deg": sky.centre_dec_deg,
            "radius_deg": sky.radius_deg,
        },
        "seed": sky.seed,
        "epoch_mjd": sky.epoch_mjd,
        "span_days": sky.span_days,
        "ref_freq_hz": REF_FREQ_HZ,
        "sources": [
            {
                "source_id": s.source_id,
                "calibrator": s.calibrator,
                "ra_deg": s.ra_deg,
                "dec_deg": s.dec_deg,
                "flux_1400_mjy": s.flux_1400_mjy,
                "alpha": s.alpha,
                "maj_arcsec": s.maj_arcsec,
                "variable": s.variability.get("kind", "constant") != "constant",
                "variability": s.variability,
                "components": [
                    {
                        "ra_deg": c.ra_deg,
                        "dec_deg": c.dec_deg,
                        "frac": c.frac,
                        "maj_arcsec": c.maj_arcsec,
                        "min_arcsec": c.min_arcsec,
                        "pa_deg": c.pa_deg,
                    }
                    for c in s.components
                ],
            }
            for s in sky.sources
        ],
    }


def sky_from_dict(d: dict[str, Any]) -> Sky:
    """Inverse of :func:`sky_to_dict`."""
    srcs = [
        SkySource(
            source_id=str(s["source_id"]),
            ra_deg=float(s["ra_deg"]),
            dec_deg=float(s["dec_deg"]),
            flux_1400_mjy=float(s["flux_1400_mjy"]),
            alpha=float(s["alpha"]),
            components=[Component(**c) for c in s["components"]],
            variability=dict(s.get("variability") or var.CONSTANT),
            calibrator=s.get("calibrator"),
        )
        for s in d["sources"]
    ]
    f = d["field"]
    return Sky(
        centre_ra_deg=float(f["ra_deg"]),
        centre_dec_deg=float(f["dec_deg"]),
        radius_deg=float(f["radius_deg"]),
        seed=int(d.get("seed", 0)),
        epoch_mjd=float(d.get("epoch_mjd", 0.0)),
        span_days=float(d.get("span_days", 0.0)),
        sources=srcs,
    )


def write_catalogs(sky: Sky, out_dir: Path) -> dict[str, Path]:
    """Write ``nvss.fits``, ``first.fits``, ``vlass.fits`` and ``sky_truth.json``.

    Returns the paths by survey name (``"truth"`` for the truth file). Every file is
    written under a temporary name and renamed.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ContimgError(f"cannot create catalog directory {out_dir}: {exc.strerror}") from None
    if not os.access(out_dir, os.W_OK):
        raise ContimgError(f"catalog directory {out_dir} is not writable")
    rng = np.random.default_rng([sky.seed, 1])
    meas = _measure(sky, rng)
    paths: dict[str, Path] = {}
    for survey, rows in (("nvss", meas.nvss), ("first", meas.first), ("vlass", meas.vlass)):
        p = out_dir / CATALOG_FILES[survey]
        _write_table(rows, survey, p)
        paths[survey] = p
    truth = out_dir / TRUTH_FILE
    tmp = truth.with_name(f".{truth.name}.tmp")
    tmp.write_text(json.dumps(sky_to_dict(sky), indent=1, allow_nan=False))
    os.replace(tmp, truth)
    paths["truth"] = truth
    return paths


def load_sky(catalog_dir: Path) -> Sky:
    """The sky of a catalog directory (its ``sky_truth.json``), with clear errors."""
    path = Path(catalog_dir) / TRUTH_FILE
    if not Path(catalog_dir).is_dir():
        raise ContimgError(
            f"catalog directory {catalog_dir} does not exist; make one with "
            "'contimg sim catalogs --out DIR'"
        )
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ContimgError(
            f"no {TRUTH_FILE} in {catalog_dir}: the simulator needs the sky truth written by "
            "'contimg sim catalogs --out DIR'"
        ) from None
    except OSError as exc:
        raise ContimgError(f"cannot read sky truth {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ContimgError(
            f"sky truth {path} is not valid JSON ({exc.msg}, line {exc.lineno})"
        ) from None
    try:
        return sky_from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ContimgError(f"sky truth {path} is malformed: {exc!r}") from None
