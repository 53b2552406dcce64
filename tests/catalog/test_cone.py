"""Cone searches and image footprints against brute force, on both backends,
across RA 0/360 and at both poles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from contimg.catalog.build import BuildInputs, build_catalog
from contimg.catalog.cone import cone_ranges, cone_search, final_references_within
from contimg.catalog.footprint import sources_in_image
from contimg.config import Settings
from contimg.db.engine import Database, open_database
from contimg.db.queries import sources as q
from contimg.errors import ContimgError
from contimg.science.crossmatch import angular_separation_deg
from tests import factories as f


def _cap(
    rng: np.random.Generator, n: int, ra0: float, dec0: float, r_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` positions uniform within ``r_deg`` of (ra0, dec0)."""
    cos_r = np.cos(np.deg2rad(r_deg))
    z = rng.uniform(cos_r, 1.0, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    s = np.sqrt(1 - z**2)
    v = np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=-1)  # around +z
    a, d = np.deg2rad(ra0), np.deg2rad(dec0)
    # Rotate +z to (a, d): Ry(90 - d) then Rz(a).
    t = np.pi / 2 - d
    ry = np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    w = v @ ry.T @ rz.T
    ra = np.rad2deg(np.arctan2(w[:, 1], w[:, 0])) % 360.0
    dec = np.rad2deg(np.arcsin(np.clip(w[:, 2], -1, 1)))
    return ra, dec


@pytest.fixture
def sky(tmp_path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, Path]:
    rng = np.random.default_rng(11)
    parts = [
        _cap(rng, 600, 0.0, 0.0, 4.0),  # across RA 0/360
        _cap(rng, 500, 0.0, 90.0, 4.0),  # north pole
        _cap(rng, 500, 0.0, -90.0, 4.0),  # south pole
        _cap(rng, 400, 180.0, 45.0, 5.0),
        _cap(rng, 400, 359.0, -60.0, 3.0),
    ]
    ra = np.concatenate([p[0] for p in parts])
    dec = np.concatenate([p[1] for p in parts])
    flux = rng.uniform(3.0, 300.0, ra.size)
    names = [f"S{i:05d}" for i in range(ra.size)]
    path = f.write_catalog(f.nvss_table(ra, dec, flux, 1.0, names=names), tmp_path / "nvss.fits")
    return ra, dec, flux, path


@pytest.fixture
def catalog(
    settings: Settings, sky: tuple[np.ndarray, np.ndarray, np.ndarray, Path]
) -> Iterator[Database]:
    build_catalog(settings, BuildInputs(sky[3]))
    db = open_database(settings, "master_sources")
    yield db
    db.dispose()


CONES = [
    (0.0, 0.0, 1.75),
    (359.9, 0.5, 2.0),
    (0.05, -1.0, 3.0),
    (359.999, 0.0, 0.3),
    (0.0, 90.0, 2.0),
    (123.0, 89.0, 1.75),
    (300.0, 88.5, 2.0),
    (0.0, -90.0, 1.0),
    (45.0, -89.2, 1.75),
    (180.0, 45.0, 1.75),
    (181.0, 46.0, 0.05),
    (359.0, -60.0, 2.5),
    (1.0, -61.0, 3.0),
    (90.0, 0.0, 1.0),  # empty region
]


def test_cone_matches_brute_force(
    catalog: Database, sky: tuple[np.ndarray, np.ndarray, np.ndarray, Path]
) -> None:
    """One catalog, many cones (building one per cone would cost more than the test)."""
    ra, dec, _, _ = sky
    for ra0, dec0, r in CONES:
        sep = angular_separation_deg(ra0, dec0, ra, dec)
        expected = {f"NVSS JS{i:05d}" for i in np.flatnonzero(sep <= r)}
        hits = cone_search(catalog, ra_deg=ra0, dec_deg=dec0, radius_deg=r)
        assert {h.source_id for h in hits} == expected, (ra0, dec0, r)
        seps = [h.sep_deg for h in hits]
        assert seps == sorted(seps)
        assert all(s <= r for s in seps)
    assert len(cone_search(catalog, ra_deg=0.0, dec_deg=-90.0, radius_deg=1.0)) > 10


def test_cone_centre_ra_outside_0_360(catalog: Database) -> None:
    a = cone_search(catalog, ra_deg=-0.5, dec_deg=0.0, radius_deg=1.0)
    b = cone_search(catalog, ra_deg=359.5, dec_deg=0.0, radius_deg=1.0)
    assert [h.source_id for h in a] == [h.source_id for h in b] and a


def test_min_flux_and_reference_views(
    catalog: Database, sky: tuple[np.ndarray, np.ndarray, np.ndarray, Path]
) -> None:
    ra, dec, flux, _ = sky
    sep = angular_separation_deg(180.0, 45.0, ra, dec)
    inside = sep <= 3.0
    bright = {f"NVSS JS{i:05d}" for i in np.flatnonzero(inside & (flux >= 100.0))}
    hits = cone_search(catalog, ra_deg=180.0, dec_deg=45.0, radius_deg=3.0, min_flux_mjy=100.0)
    assert {h.source_id for h in hits} == bright
    with catalog.read() as conn:
        final = set(q.relation_ids(conn, relation="final_references"))
    refs = final_references_within(catalog, ra_deg=180.0, dec_deg=45.0, radius_deg=3.0)
    all_inside = {f"NVSS JS{i:05d}" for i in np.flatnonzero(inside)}
    assert {h.source_id for h in refs} == all_inside & final
    assert refs  # flux 3-300 mJy at 1 mJy error: most are references
    good = cone_search(
        catalog, ra_deg=180.0, dec_deg=45.0, radius_deg=3.0, relation="good_references"
    )
    assert {h.source_id for h in refs} <= {h.source_id for h in good} <= all_inside


def test_sources_in_image(
    catalog: Database, sky: tuple[np.ndarray, np.ndarray, np.ndarray, Path]
) -> None:
    for ra0, dec0, rot in [(0.0, 0.5, 30.0), (180.0, 45.0, -70.0), (20.0, 88.8, 10.0)]:
        _check_image(catalog, sky, ra0, dec0, rot)


def _check_image(
    catalog: Database,
    sky: tuple[np.ndarray, np.ndarray, np.ndarray, Path],
    ra0: float,
    dec0: float,
    rot: float,
) -> None:
    """Every catalog source whose position falls on the pixels, and no other; the
    WCS is rotated and has frequency and Stokes axes, like a WSClean image."""
    hdr = fits.Header()
    hdr["NAXIS"] = 4
    for k, (ctype, crval, cdelt, crpix) in enumerate(
        [
            ("RA---SIN", ra0, -0.01, 151.0),
            ("DEC--SIN", dec0, 0.01, 101.0),
            ("FREQ", 1.4e9, 1e6, 1.0),
            ("STOKES", 1.0, 1.0, 1.0),
        ],
        start=1,
    ):
        hdr[f"CTYPE{k}"], hdr[f"CRVAL{k}"], hdr[f"CDELT{k}"], hdr[f"CRPIX{k}"] = (
            ctype,
            crval,
            cdelt,
            crpix,
        )
    c, s = np.cos(np.deg2rad(rot)), np.sin(np.deg2rad(rot))
    hdr["PC1_1"], hdr["PC1_2"], hdr["PC2_1"], hdr["PC2_2"] = c, -s, s, c
    shape = (240, 300)
    ra, dec, flux, _ = sky
    wcs = WCS(hdr).celestial
    x, y = wcs.world_to_pixel_values(ra, dec)
    ok = np.isfinite(x) & np.isfinite(y)
    on = ok & (x >= -0.5) & (x < shape[1] - 0.5) & (y >= -0.5) & (y < shape[0] - 0.5)
    # Keep only sources in the front hemisphere of the projection (SIN folds).
    on &= angular_separation_deg(ra0, dec0, ra, dec) < 10.0
    for min_flux in (None, 50.0):
        keep = on if min_flux is None else on & (flux >= min_flux)
        expected = {f"NVSS JS{i:05d}" for i in np.flatnonzero(keep)}
        hits = sources_in_image(catalog, wcs=hdr, shape=shape, min_flux_mjy=min_flux)
        assert {h.source_id for h, _, _ in hits} == expected
        assert expected  # the test means something
        for h, px, py in hits:
            i = int(h.source_id[-5:])
            assert px == pytest.approx(x[i], abs=1e-6) and py == pytest.approx(y[i], abs=1e-6)
    inner = sources_in_image(catalog, wcs=hdr, shape=shape, margin_pix=-20)
    assert all(
        20 - 0.5 <= px < shape[1] - 20.5 and 20 - 0.5 <= py < shape[0] - 20.5 for _, px, py in inner
    )


def test_bad_cone_is_a_clear_error(catalog: Database) -> None:
    bad = [(10.0, 91.0, 1.0), (float("nan"), 0.0, 1.0), (0.0, 0.0, 0.0), (0.0, 0.0, 200.0)]
    for ra0, dec0, r in bad:
        with pytest.raises(ContimgError, match="cone"):
            cone_search(catalog, ra_deg=ra0, dec_deg=dec0, radius_deg=r)


def test_cone_ranges_cover_the_cap() -> None:
    """Pixel ranges are sorted, disjoint, and include every position in the cone."""
    rng = np.random.default_rng(3)
    from contimg.catalog.cone import healpix_index

    for ra0, dec0, r in [
        (0.0, 0.0, 1.75),
        (10.0, 89.9, 0.5),
        (200.0, -89.0, 2.0),
        (5.0, 5.0, 0.001),
    ]:
        ranges = cone_ranges(ra0, dec0, r)
        lows = [a for a, _ in ranges]
        assert lows == sorted(lows)
        assert all(b >= a for a, b in ranges)
        assert all(ranges[i][1] < ranges[i + 1][0] for i in range(len(ranges) - 1))
        ra, dec = _cap(rng, 2000, ra0, dec0, r)
        pix = healpix_index(ra, dec)
        lo = np.array(lows)
        hi = np.array([b for _, b in ranges])
        k = np.searchsorted(lo, pix, side="right") - 1
        assert np.all((k >= 0) & (pix <= hi[np.clip(k, 0, None)]))
