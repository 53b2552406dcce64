"""A small catalog with known answers: NVSS, FIRST and VLASS files built so that
every rule of science.md section 5 and every cut of the two views is exercised."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from tests import factories as f

ALPHA_FACTOR = 3.0 / 1.4


def vlass_flux(s_nvss_mjy: float, alpha: float) -> float:
    return s_nvss_mjy * ALPHA_FACTOR**alpha


def offset(
    ra: float, dec: float, d_dec_arcsec: float = 0.0, d_ra_arcsec: float = 0.0
) -> tuple[float, float]:
    """A position offset by arcsec on the sky (small offsets, away from the poles)."""
    return (
        (ra + d_ra_arcsec / 3600.0 / math.cos(math.radians(dec))) % 360.0,
        dec + d_dec_arcsec / 3600.0,
    )


@dataclass
class KnownCatalog:
    nvss: Path
    first: Path
    vlass: Path
    expected: dict[str, dict[str, object]]
    """source_id -> expected column values (NULL as None)."""
    good: set[str] = field(default_factory=set)
    final: set[str] = field(default_factory=set)


def build_known(tmp: Path, *, suffix: str = ".fits") -> KnownCatalog:
    """Write the known-answer survey files under ``tmp``."""
    names: list[str] = []
    ra: list[float] = []
    dec: list[float] = []
    flux: list[float] = []
    err: list[float] = []
    fr: list[tuple[float, float, float, float, float]] = []  # ra, dec, maj, min, pa
    vl: list[tuple[float, float, float]] = []  # ra, dec, total flux
    expected: dict[str, dict[str, object]] = {}

    def nv(name: str, r: float, d: float, s: float, e: float = 1.0, **exp: object) -> str:
        names.append(name)
        ra.append(r)
        dec.append(d)
        flux.append(s)
        err.append(e)
        sid = "NVSS J" + name
        base: dict[str, object] = {
            "ra_deg": r,
            "dec_deg": d,
            "s_nvss": s / 1e3,
            "snr_nvss": (s / e) if e > 0 else None,
            "s_vlass": None,
            "alpha": None,
            "resolved_flag": 0,
            "confusion_flag": 0,
            "first_size_maj_arcsec": None,
            "first_size_min_arcsec": None,
            "first_size_pa_deg": None,
        }
        base.update(exp)
        expected[sid] = base
        return sid

    good: set[str] = set()
    final: set[str] = set()
    # A: plain, no partners: good and final (alpha NULL is allowed).
    sid = nv("100000.0+300000", 150.0, 30.0, 100.0)
    good.add(sid)
    final.add(sid)
    # B: VLASS partner 3" away, alpha -0.7.
    sv = vlass_flux(50.0, -0.7)
    sid = nv("100400.0+300000", 151.0, 30.0, 50.0, s_vlass=sv / 1e3, alpha=-0.7)
    vl.append((*offset(151.0, 30.0, 3.0), sv))
    good.add(sid)
    final.add(sid)
    # C: steep spectrum alpha -2: not good.
    sv = vlass_flux(50.0, -2.0)
    nv("100800.0+300000", 152.0, 30.0, 50.0, s_vlass=sv / 1e3, alpha=-2.0)
    vl.append((*offset(152.0, 30.0, -2.0), sv))
    # D: inverted alpha +0.8: not good.
    sv = vlass_flux(50.0, 0.8)
    nv("101200.0+300000", 153.0, 30.0, 50.0, s_vlass=sv / 1e3, alpha=0.8)
    vl.append((*offset(153.0, 30.0, 0.0, 2.0), sv))
    # E: FIRST partner resolved (deconvolved major 8" > 6"): not good.
    nv(
        "101600.0+300000", 154.0, 30.0, 50.0,
        resolved_flag=1, first_size_maj_arcsec=8.0, first_size_min_arcsec=4.0,
        first_size_pa_deg=45.0,
    )  # fmt: skip
    fr.append((*offset(154.0, 30.0, 2.0), 8.0, 4.0, 45.0))
    # F: FIRST partner compact (5" < 6"): sizes kept, good and final.
    sid = nv(
        "102000.0+300000", 155.0, 30.0, 50.0,
        first_size_maj_arcsec=5.0, first_size_min_arcsec=2.0, first_size_pa_deg=10.0,
    )  # fmt: skip
    fr.append((*offset(155.0, 30.0, -2.0), 5.0, 2.0, 10.0))
    good.add(sid)
    final.add(sid)
    # G: two VLASS within 7.5" (2" and 5"): nearest wins, confused: not good.
    sv_near = vlass_flux(50.0, -0.5)
    nv("102400.0+300000", 156.0, 30.0, 50.0, s_vlass=sv_near / 1e3, alpha=-0.5, confusion_flag=1)
    vl.append((*offset(156.0, 30.0, 5.0), 10.0))
    vl.append((*offset(156.0, 30.0, -2.0), sv_near))
    # H: two FIRST within the radius: confused; the nearest one's sizes.
    nv(
        "102800.0+300000", 157.0, 30.0, 50.0,
        confusion_flag=1, first_size_maj_arcsec=1.0, first_size_min_arcsec=0.0,
        first_size_pa_deg=0.0,
    )  # fmt: skip
    fr.append((*offset(157.0, 30.0, 1.0), 1.0, 0.0, 0.0))
    fr.append((*offset(157.0, 30.0, -6.0), 3.0, 0.0, 0.0))
    # I: VLASS 9" away: outside 7.5", no match; good and final.
    sid = nv("103200.0+300000", 158.0, 30.0, 50.0)
    vl.append((*offset(158.0, 30.0, 9.0), 40.0))
    good.add(sid)
    final.add(sid)
    # J: SNR 8: good, not final.
    sid = nv("103600.0+300000", 159.0, 30.0, 8.0)
    good.add(sid)
    # K: SNR 5: neither.
    nv("104000.0+300000", 160.0, 30.0, 5.0)
    # L: across RA 0/360: partner at RA 0.0005, source at 359.9995 (3.5" apart).
    sv = vlass_flux(30.0, -0.7)
    sid = nv("235959.8+100000", 359.9995, 10.0, 30.0, s_vlass=sv / 1e3, alpha=-0.7)
    vl.append((0.0005, 10.0, sv))
    good.add(sid)
    final.add(sid)
    # M: at the pole: partner on the far side of the pole, 7.2" away.
    sv = vlass_flux(30.0, -0.3)
    sid = nv("004000.0+895956", 10.0, 89.999, 30.0, s_vlass=sv / 1e3, alpha=-0.3)
    vl.append((190.0, 89.999, sv))
    good.add(sid)
    final.add(sid)
    # O: flux error 0: SNR NULL: not good.
    nv("104400.0+300000", 161.0, 30.0, 20.0, e=0.0)
    # Unrelated field sources far from every NVSS source.
    fr.append((200.0, 5.0, 2.0, 1.0, 0.0))
    vl.append((201.0, 5.0, 3.0))

    nvss_t = f.nvss_table(ra, dec, flux, err, names=names)
    first_t = f.first_table(
        [x[0] for x in fr], [x[1] for x in fr], [x[2] for x in fr], [x[3] for x in fr],
        [x[4] for x in fr],
    )  # fmt: skip
    vlass_t = f.vlass_table([x[0] for x in vl], [x[1] for x in vl], [x[2] for x in vl])
    # Shuffle the partner files: the build must not depend on their order.
    rng = np.random.default_rng(5)
    first_t = first_t[rng.permutation(len(first_t))]
    vlass_t = vlass_t[rng.permutation(len(vlass_t))]
    return KnownCatalog(
        nvss=f.write_catalog(nvss_t, tmp / f"nvss{suffix}"),
        first=f.write_catalog(first_t, tmp / f"first{suffix}"),
        vlass=f.write_catalog(vlass_t, tmp / f"vlass{suffix}"),
        expected=expected,
        good=good,
        final=final,
    )


@pytest.fixture
def known(tmp_path: Path) -> KnownCatalog:
    out = tmp_path / "surveys"
    out.mkdir()
    return build_known(out)
