"""The one FITS plane reader: plane extraction, error policy, photometry images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from contimg.errors import ContimgError
from contimg.imaging.fits import read_fits_image, read_header, read_plane
from contimg.science.photometry import forced_photometry
from tests.factories import write_synth_fits
from tests.factories.images import make_image


def test_read_fits_image_4d(tmp_path: Path) -> None:
    im = make_image(
        n_pix=128, positions_px=np.array([[64.0, 64.0]]), fluxes_jyb=np.array([0.05]), seed=1
    )
    image = read_fits_image(write_synth_fits(tmp_path / "img.fits", im, cube=True))
    assert image.data.shape == (128, 128)
    assert image.beam.major_arcsec == pytest.approx(14.0)
    res = forced_photometry(image.data, image.wcs, image.beam, im.ra_deg, im.dec_deg)
    assert res.peak_jyb[0] == pytest.approx(0.05, abs=5e-3)
    fits.PrimaryHDU(data=im.data, header=im.wcs.to_header()).writeto(tmp_path / "nobeam.fits")
    with pytest.raises(ContimgError, match=r"nobeam\.fits.*BMAJ"):
        read_fits_image(tmp_path / "nobeam.fits")
    with pytest.raises(ContimgError, match="does not exist"):
        read_fits_image(tmp_path / "missing.fits")


def test_read_plane_policy(tmp_path: Path) -> None:
    data = np.arange(12, dtype=np.float64).reshape(1, 1, 3, 4)
    path = tmp_path / "cube.fits"
    fits.PrimaryHDU(data=data).writeto(path)
    plane = read_plane(path, dtype=np.float64)
    assert plane.data.shape == (3, 4) and plane.data.dtype == np.float64
    assert read_plane(path).data.dtype == np.float32
    assert read_header(path)["NAXIS"] == 4
    fits.PrimaryHDU(data=np.zeros((2, 3, 4))).writeto(tmp_path / "multi.fits")
    with pytest.raises(ContimgError, match=r"multi\.fits has shape \(2, 3, 4\)"):
        read_plane(tmp_path / "multi.fits")
    (tmp_path / "junk.fits").write_text("not fits")
    with pytest.raises(ContimgError, match=r"^image junk\.fits is not a readable FITS file"):
        read_plane(tmp_path / "junk.fits", label="junk.fits")
    fits.PrimaryHDU().writeto(tmp_path / "empty.fits")
    with pytest.raises(ContimgError, match="holds no image data"):
        read_plane(tmp_path / "empty.fits")
    with pytest.raises(ContimgError, match=f"image {tmp_path}/missing.fits does not exist"):
        read_header(tmp_path / "missing.fits")
