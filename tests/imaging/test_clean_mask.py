"""The catalogue's CLEAN mask (imaging.clean_mask = "catalog") on a real group and WSClean.

The mask must lie on WSClean's own grid (same phase centre, reference pixel and cell),
hold every catalogued source bright enough, and CLEAN must put its components only
inside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from contimg.catalog.build import insert_sources
from contimg.config import ImagingSettings, Settings
from contimg.imaging.mask import phase_centre_deg
from contimg.imaging.wsclean import run_wsclean
from contimg.science.image import celestial_wcs
from contimg.stages.image import write_catalog_mask
from tests.conftest import init_databases
from tests.imaging.test_honest_noise import _group

pytestmark = [
    pytest.mark.tools,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("/usr/bin/wsclean") is None, reason="WSClean not installed"),
]


def test_catalog_mask_is_on_wscleans_grid_and_holds_the_clean_components(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    ms, _truth, sky = _group(tmp_path, radius_deg=0.8, min_mjy=20, max_mjy=400, density=40)
    dbs = init_databases(sqlite_settings)
    try:
        imaging = ImagingSettings(size_px=1024, cell_arcsec=6.0, clean_mask_min_apparent_mjy=10.0)
        mask_path = tmp_path / "g.clean-mask.fits"
        centre = phase_centre_deg(ms)
        # An empty catalogue: no mask, the caller falls back to WSClean's own.
        assert write_catalog_mask(dbs.master_sources, imaging, ms_path=ms,
                                  pointings=[centre], out=mask_path) == 0  # fmt: skip
        assert not mask_path.exists()
        insert_sources(dbs.master_sources, [
            {"source_id": s.source_id, "ra_deg": s.ra_deg, "dec_deg": s.dec_deg,
             "s_nvss": s.flux_1400_mjy / 1e3}
            for s in sky.sources
        ])  # fmt: skip
        n = write_catalog_mask(
            dbs.master_sources, imaging, ms_path=ms, pointings=[centre], out=mask_path
        )
        assert n >= 5
        products = run_wsclean(
            imaging, ms_path=ms, prefix=tmp_path / "img", data_column="DATA", mask=mask_path
        )
    finally:
        dbs.dispose()
    image_h = fits.getheader(products.image)
    mask_h = fits.getheader(mask_path)
    for key in ("NAXIS1", "NAXIS2", "CTYPE1", "CTYPE2", "CRPIX1", "CRPIX2"):
        assert mask_h[key] == image_h[key], key
    # The centre agrees to well under a pixel (0.04" seen: WSClean's frame is FK5 J2000,
    # the MS's ICRS); WSClean 3.1 may write the RA negative, so compare it modulo 360.
    d_ra = (mask_h["CRVAL1"] - image_h["CRVAL1"] + 180.0) % 360.0 - 180.0
    assert abs(d_ra) * np.cos(np.radians(image_h["CRVAL2"])) < 0.1 / 3600.0
    assert mask_h["CRVAL2"] == pytest.approx(image_h["CRVAL2"], abs=0.1 / 3600.0)
    for key in ("CDELT1", "CDELT2"):
        assert mask_h[key] == pytest.approx(image_h[key], abs=1e-12), key
    mask = fits.getdata(mask_path)[0, 0] > 0
    # Each masked source's own pixel is in the mask, on the image's WCS.
    w = celestial_wcs(image_h)
    bright = [s for s in sky.sources if s.flux_1400_mjy >= 100.0]
    x, y = np.round(w.all_world2pix([[s.ra_deg, s.dec_deg] for s in bright], 0)).astype(int).T
    inside = (x >= 0) & (x < 1024) & (y >= 0) & (y < 1024)
    assert inside.sum() >= 3
    assert mask[y[inside], x[inside]].all()
    # CLEAN found components, and only inside the mask.
    model = fits.getdata(products.model)[0, 0]
    assert np.count_nonzero(model) > 0
    assert not np.any(model[~mask])
