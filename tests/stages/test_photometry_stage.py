"""The photometry stage on both backends: rows, normalisation, variability, ESE, re-runs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.products import (
    ese_candidates,
    image_normalisation,
    normalisation_baselines,
    photometry,
    variability_stats,
)
from contimg.science.flags import PhotFlag
from contimg.stages.base import REGISTRY
from contimg.stages.builtin import load_builtin_stages
from contimg.stages.photometry import PhotometryStage
from contimg.variability.update import recompute_variability
from tests.factories import context, make_field, write_epoch

SCALES = [1.03, 0.96, 1.05, 0.97, 1.0, 1.04, 0.95, 1.02, 0.98, 1.01]
DIP = {7: 0.6, 8: 0.6, 9: 0.6}


def _stats(dbs: Databases) -> dict[str, dict[str, object]]:
    with dbs.products.read() as conn:
        rows = conn.execute(sa.select(variability_stats)).mappings()
        return {r["source_id"]: dict(r) for r in rows}


def test_registered_after_imaging() -> None:
    load_builtin_stages()
    names = REGISTRY.names()
    assert "photometry" in names
    if "image" in names:
        assert names.index("photometry") > names.index("image")


def test_stage_end_to_end(settings: Settings, dbs: Databases, tmp_path: Path) -> None:
    settings.photometry.flux_limit_mjy = 5.0
    # baselines from the median of 3 epochs (the default, 1, normalises from the first:
    # tests/photometry/test_photometry_qc.py)
    settings.photometry.baseline_min_epochs = 3
    f = make_field(dbs)
    stage = PhotometryStage()
    paths = []
    for k, scale in enumerate(SCALES):
        path, mid = write_epoch(
            dbs, tmp_path / "products", f, epoch=k, scale=scale, dip=DIP.get(k, 1.0)
        )
        paths.append(path)
        art = {"image_paths": {"pbcor": path}, "mid_mjd": mid} if k % 2 == 0 else {}
        # odd epochs: artifacts lost (crash) -> rebuilt from images/ms_index rows
        ctx = context(settings, dbs, tmp_path / "products", epoch=k, artifacts=art)
        stage.run(ctx)
        assert ctx.timings_s["photometry_time"] > 0

    with dbs.products.read() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(photometry)).mappings()]
        norms = {
            r["image_path"]: dict(r)
            for r in conn.execute(sa.select(image_normalisation)).mappings()
        }
        n_base = conn.execute(
            sa.select(sa.func.count()).select_from(normalisation_baselines)
        ).scalar()
    ids = {r["source_id"] for r in rows}
    assert f.faint_id not in ids and len(ids) == len(f.ids) - 1  # flux limit
    assert len(rows) == len(SCALES) * len(ids)
    assert {r["mjd"] for r in rows} == {60000.0 + k for k in range(len(SCALES))}
    assert n_base == 30
    # the first two images have no baselines yet: raw and flagged
    for k in range(len(SCALES)):
        img = [r for r in rows if r["image_path"] == str(paths[k])]
        if k < 2:
            assert all(r["flags"] & PhotFlag.NOT_NORMALISED for r in img)
            assert norms[str(paths[k])]["factor"] is None
            assert all(r["peak_jyb"] == r["raw_peak_jyb"] for r in img)
        else:
            c = norms[str(paths[k])]["factor"]
            # corrections follow the injected scale (relative to the baseline epochs' median)
            assert c == pytest.approx(SCALES[k] / np.median(SCALES[:3]), rel=0.01)
            for r in img:
                assert r["norm_factor"] == c
                assert r["peak_jyb"] == pytest.approx(r["raw_peak_jyb"] / c)
                assert r["peak_err_jyb"] > r["raw_peak_err_jyb"] / c
                assert r["snr"] == pytest.approx(r["peak_jyb"] / r["peak_err_jyb"])

    # steady bright sources: normalised light curves scatter by well under 2 %
    stats = _stats(dbs)
    for sid in f.ids[:30]:
        st = stats[sid]
        assert st["n_obs"] == len(SCALES) - 2
        assert st["std_flux_mjy"] / st["mean_flux_mjy"] < 0.02
        assert st["last_mjd"] == 60000.0 + len(SCALES) - 1
        assert math.isclose(st["chi2_nu"], st["eta_metric"], rel_tol=1e-9)

    # the dipping source is flagged, once per type
    with dbs.products.read() as conn:
        cands = [dict(r) for r in conn.execute(sa.select(ese_candidates)).mappings()]
    dip = [c for c in cands if c["source_id"] == f.dip_id]
    assert {c["flag_type"] for c in dip} == {"variability", "rapid_change"}
    assert all(c["status"] == "active" and c["flagged_by"] == "auto" for c in dip)
    assert not [c for c in cands if c["source_id"] != f.dip_id]

    # re-running an image replaces its rows; statistics equal a full recompute
    ctx = context(settings, dbs, tmp_path / "products", epoch=5)
    stage.run(ctx)
    with dbs.products.read() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(photometry)).scalar()
    assert n == len(rows)
    incremental = _stats(dbs)
    n_src, _ = recompute_variability(dbs, settings)
    assert n_src == len(incremental)
    full = _stats(dbs)
    for sid, a in incremental.items():
        b = full[sid]
        for col in (
            "n_obs",
            "mean_flux_mjy",
            "std_flux_mjy",
            "chi2_nu",
            "eta_metric",
            "sigma_deviation",
            "min_flux_mjy",
            "max_flux_mjy",
            "last_mjd",
        ):
            assert a[col] == pytest.approx(b[col], rel=1e-9), (sid, col)
    with dbs.products.read() as conn:
        cands2 = [dict(r) for r in conn.execute(sa.select(ese_candidates)).mappings()]
    assert len(cands2) == len(cands)


def test_missing_image_is_a_clear_error(settings: Settings, dbs: Databases, tmp_path: Path) -> None:
    from contimg.errors import ContimgError

    ctx = context(settings, dbs, tmp_path, epoch=0)
    with pytest.raises(ContimgError, match="epoch000"):
        PhotometryStage().run(ctx)


def test_image_without_catalog_sources(settings: Settings, dbs: Databases, tmp_path: Path) -> None:
    from contimg.db.queries import products as prq
    from tests.factories import Field

    f = Field(ids=["X"], pos_px=np.array([[128.0, 128.0]]), flux_jy=np.array([0.1]), dip_id="X")
    write_epoch(dbs, tmp_path / "p", f, epoch=0, scale=1.0)
    PhotometryStage().run(context(settings, dbs, tmp_path / "p", epoch=0))
    with dbs.products.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(photometry)).scalar() == 0
        ms = prq.get_ms(conn, path=str(tmp_path / "p" / "epoch000.ms"))
    assert ms is not None and ms.stage == "photometry_complete"


def test_image_processed_out_of_order(settings: Settings, dbs: Databases, tmp_path: Path) -> None:
    """A late image (older than the sources' latest measurement) is compared with both
    its neighbours in time, leaves the latest measurement in place, and the statistics
    still equal a full recompute."""
    from contimg.db.queries import variability as vq

    settings.photometry.flux_limit_mjy = 5.0
    f = make_field(dbs)
    stage = PhotometryStage()
    for k in [0, 1, 2, 3, 4, 5, 6, 8, 9, 7]:  # the dip epoch comes last
        path, mid = write_epoch(
            dbs, tmp_path / "products", f, epoch=k, scale=1.0, dip=0.6 if k == 7 else 1.0
        )
        art = {"image_paths": {"pbcor": path}, "mid_mjd": mid}
        stage.run(context(settings, dbs, tmp_path / "products", epoch=k, artifacts=art))
    with dbs.products.read() as conn:
        cands = [dict(r) for r in conn.execute(sa.select(ese_candidates)).mappings()]
        sums = vq.get_sums(conn, source_ids=f.ids)
    rapid = [c for c in cands if c["flag_type"] == "rapid_change"]
    assert [c["source_id"] for c in rapid] == [f.dip_id]
    assert {row[1] for row in sums.values()} == {60009.0}  # latest good stays epoch 9
    incremental = _stats(dbs)
    recompute_variability(dbs, settings)
    full = _stats(dbs)
    assert incremental.keys() == full.keys()
    for sid, a in incremental.items():
        for col in ("n_obs", "mean_flux_mjy", "chi2_nu", "sigma_deviation", "last_mjd"):
            assert a[col] == pytest.approx(full[sid][col], rel=1e-9), (sid, col)
    assert incremental[f.dip_id]["min_flux_mjy"] < 0.7 * incremental[f.dip_id]["max_flux_mjy"]
