"""Image quality control in the photometry stage, on both backends.

Bad input (an image with NaNs, an all-zero image, an image with a wrong beam in its
header, an image whose noise is far above the field's others) is flagged with a
reason in ``image_qc``, never used for statistics, never a crash; and nothing stored
is lost (a re-run that rejects an image keeps its earlier rows, flagged).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from astropy.io import fits

from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.products import image_qc, photometry, variability_stats
from contimg.photometry.image import process_image
from contimg.science.flags import BAD_MASK, PhotFlag
from tests.factories import make_field, write_epoch

N_GOOD = 5


def _qc(dbs: Databases) -> dict[str, dict[str, object]]:
    with dbs.products.read() as conn:
        return {r["image_path"]: dict(r) for r in conn.execute(sa.select(image_qc)).mappings()}


def _n_obs(dbs: Databases) -> dict[str, int]:
    with dbs.products.read() as conn:
        rows = conn.execute(sa.select(variability_stats.c.source_id, variability_stats.c.n_obs))
        return {sid: int(n) for sid, n in rows}


def _edit(path: Path, *, data: np.ndarray | None = None, **header: float) -> None:
    with fits.open(path, mode="update") as hdul:
        if data is not None:
            hdul[0].data = data.astype(np.float32)
        for k, v in header.items():
            hdul[0].header[k] = v


def _good_survey(settings: Settings, dbs: Databases, tmp: Path) -> tuple[object, list[Path]]:
    f = make_field(dbs)
    paths = []
    for k in range(N_GOOD):
        path, mid = write_epoch(dbs, tmp / "products", f, epoch=k, scale=1.0 + 0.01 * (k % 2))
        process_image(dbs, settings, image_path=path, mid_mjd=mid)
        paths.append(path)
    return f, paths


@pytest.mark.parametrize(
    "defect",
    ["nan_centre", "all_zero", "beam_below_a_pixel", "beam_missing", "beam_too_wide", "noisy"],
)
def test_bad_images_are_flagged_not_used_and_never_crash(
    settings: Settings, dbs: Databases, tmp_path: Path, defect: str
) -> None:
    f, good = _good_survey(settings, dbs, tmp_path)
    qc = _qc(dbs)
    assert all(qc[str(p)]["status"] == "ok" for p in good)
    before = _n_obs(dbs)
    assert set(before.values()) == {N_GOOD}

    path, mid = write_epoch(dbs, tmp_path / "products", f, epoch=N_GOOD, scale=1.0)
    with fits.open(path) as hdul:
        data = np.array(hdul[0].data, dtype=np.float64)
        bmaj = float(hdul[0].header["BMAJ"])
    if defect == "nan_centre":
        data[100:160, 100:160] = np.nan
        _edit(path, data=data)
    elif defect == "all_zero":
        _edit(path, data=np.zeros_like(data))
    elif defect == "beam_below_a_pixel":  # arcsec written where degrees belong, say
        _edit(path, BMAJ=bmaj / 3600.0, BMIN=bmaj / 3600.0 / 2)
    elif defect == "beam_missing":
        with fits.open(path, mode="update") as hdul:
            del hdul[0].header["BMAJ"]
    elif defect == "beam_too_wide":  # a plausible-looking beam, twice the survey's
        _edit(path, BMAJ=2 * bmaj)
    elif defect == "noisy":
        rng = np.random.default_rng(5)
        _edit(path, data=data + rng.normal(0.0, 5 * float(np.nanstd(data)), data.shape))

    result = process_image(dbs, settings, image_path=path, mid_mjd=mid)  # no exception
    row = _qc(dbs)[str(path)]
    assert row["status"] == "rejected"
    reasons = json.loads(str(row["reasons"]))
    assert reasons and all(isinstance(r, str) and r for r in reasons)
    expected = {
        "nan_centre": "NaN", "all_zero": "zero", "beam_below_a_pixel": "half a pixel",
        "beam_missing": "no restoring beam", "beam_too_wide": "beam major axis", "noisy": "noise",
    }[defect]  # fmt: skip
    assert any(expected in r for r in reasons), reasons
    assert result.n_good == 0
    assert _n_obs(dbs) == before  # never used for statistics
    with dbs.products.read() as conn:
        flags = list(
            conn.execute(
                sa.select(photometry.c.flags).where(photometry.c.image_path == str(path))
            ).scalars()
        )
    # measured (and kept, flagged) when it could be measured, else not measured at all
    if defect in ("beam_too_wide", "noisy"):
        assert flags and all(int(x) & PhotFlag.QC_REJECTED for x in flags)
    else:
        assert flags == []
    assert int(PhotFlag.QC_REJECTED) & BAD_MASK


def test_rejecting_a_measured_image_keeps_its_rows(
    settings: Settings, dbs: Databases, tmp_path: Path
) -> None:
    """A re-run that finds an image unusable flags its stored rows instead of deleting
    them, and the statistics drop them."""
    _f, good = _good_survey(settings, dbs, tmp_path)
    last = good[-1]
    with dbs.products.read() as conn:
        n_rows = conn.execute(
            sa.select(sa.func.count()).where(photometry.c.image_path == str(last))
        ).scalar_one()
    with fits.open(last) as hdul:
        zero = np.zeros_like(np.asarray(hdul[0].data, dtype=np.float64))
    _edit(last, data=zero)
    process_image(dbs, settings, image_path=last, mid_mjd=60000.0 + N_GOOD - 1)
    with dbs.products.read() as conn:
        flags = list(
            conn.execute(
                sa.select(photometry.c.flags).where(photometry.c.image_path == str(last))
            ).scalars()
        )
    assert len(flags) == n_rows > 0
    assert all(int(x) & PhotFlag.QC_REJECTED for x in flags)
    assert set(_n_obs(dbs).values()) == {N_GOOD - 1}
    assert _qc(dbs)[str(last)]["status"] == "rejected"
