"""The repeat-noise scale through the photometry stage and the database.

Every epoch of a field is the same sky at the same pointing plus two kinds of noise:
a pattern that is the same in every epoch (sidelobes and confusion of a drift-scan
array revisiting the same LST) and noise drawn afresh. The rms map sees both; a light
curve scatters by the fresh part only. The stage must find that ratio from the faint
sources' differences against the previous epoch and scale the errors with it.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from contimg.catalog.build import insert_sources
from contimg.config import Settings
from contimg.db.engine import Databases
from contimg.db.products import image_normalisation, photometry
from contimg.db.queries import products as prq
from contimg.photometry.image import process_image
from contimg.science.beams import airy_power
from contimg.science.flags import BAD_MASK
from contimg.telescope import DSA110
from tests.factories import CELL, DEC0, N_PIX, RA0, write_synth_fits
from tests.factories.images import make_image

RMS_STATIC = 1e-3
RMS_FRESH = 1e-3
N_EPOCHS = 6


def _field(dbs: Databases) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """30 bright references and ~120 faint sources on a jittered grid (isolated)."""
    rng = np.random.default_rng(3)
    side = 12
    step = (N_PIX - 30) / side
    gy, gx = np.mgrid[0:side, 0:side]
    pos = np.column_stack([15 + (gx.ravel() + 0.5) * step, 15 + (gy.ravel() + 0.5) * step])
    pos = pos + rng.uniform(-2, 2, pos.shape)
    n_ref = 30
    flux = np.concatenate([rng.uniform(0.1, 0.3, n_ref), np.full(len(pos) - n_ref, 0.003)])
    ids = [f"NVSS J{k:04d}" for k in range(len(pos))]
    im = make_image(n_pix=N_PIX, cell_arcsec=CELL, ra_deg=RA0, dec_deg=DEC0, positions_px=pos,
                    fluxes_jyb=flux, seed=0)  # fmt: skip
    insert_sources(
        dbs.master_sources,
        [
            {
                "source_id": sid, "ra_deg": float(im.ra_deg[k]), "dec_deg": float(im.dec_deg[k]),
                "s_nvss": max(0.006, float(flux[k])), "snr_nvss": 100.0 if k < n_ref else 8.0,
                "resolved_flag": 0, "confusion_flag": 0,
            }
            for k, sid in enumerate(ids)
        ],
    )  # fmt: skip
    return pos, flux, ids, n_ref


def _mid(k: int, two_pointings: bool) -> float:
    # one pointing: once a sidereal day; two: pointings A and B alternate, half a day apart
    return 60000.0 + (0.5 if two_pointings else 0.99727) * k


def _epoch(
    dbs: Databases, workdir: Path, pos: np.ndarray, flux: np.ndarray, k: int,
    two_pointings: bool = False,
) -> Path:  # fmt: skip
    """Epoch ``k``: the same sky plus the pointing's repeating pattern plus fresh noise.
    With ``two_pointings`` odd epochs are recorded as another pointing (0.5 deg east)
    whose repeating pattern is another one."""
    other = two_pointings and k % 2 == 1
    static = make_image(n_pix=N_PIX, cell_arcsec=CELL, ra_deg=RA0, dec_deg=DEC0,
                        positions_px=np.zeros((0, 2)), fluxes_jyb=np.zeros(0),
                        rms_jyb=RMS_STATIC, seed=78 if other else 77)  # fmt: skip
    fresh = make_image(n_pix=N_PIX, cell_arcsec=CELL, ra_deg=RA0, dec_deg=DEC0, positions_px=pos,
                       fluxes_jyb=flux, rms_jyb=RMS_FRESH, seed=500 + k)  # fmt: skip
    im = dataclasses.replace(fresh, data=(fresh.data + static.data).astype(np.float32))
    path = write_synth_fits(workdir / f"e{k:02d}-image-pb.fits", im, PBRA=RA0, PBDEC=DEC0)
    mid = _mid(k, two_pointings)
    ms_path = str(workdir / f"e{k:02d}.ms")
    with dbs.products.write() as conn:
        row = {"path": ms_path, "mid_mjd": mid, "start_mjd": mid - 0.002, "end_mjd": mid + 0.002,
               "stage": "imaged", "status": "ok"}  # fmt: skip
        prq.upsert_ms(conn, row=row)
        prq.replace_images(
            conn, ms_path=ms_path,
            rows=[{"path": str(path), "ms_path": ms_path, "created_at": 1.7e9 + k, "type": "pbcor",
                   "pbcor": 1, "beam_major_arcsec": im.beam.major_arcsec,
                   "center_ra_deg": RA0 + (0.5 if other else 0.0), "center_dec_deg": DEC0}],
        )  # fmt: skip
    return path


def _observe(
    settings: Settings, dbs: Databases, tmp: Path, *, n_epochs: int, two_pointings: bool,
    **photometry: object,
) -> tuple[list[str], list[str], int]:  # fmt: skip
    """Process ``n_epochs`` epochs of the field with these photometry settings, confusion
    flags off (every faint source here is within 25 beams of a reference 15-50x
    brighter); returns the images' paths, the sources' ids and how many are references."""
    phot = settings.photometry.model_copy(
        update={"confusion_ratio": 0.0, "sidelobe_level": 0.0, **photometry}
    )
    settings = settings.model_copy(update={"photometry": phot})
    pos, flux, ids, n_ref = _field(dbs)
    (tmp / "p").mkdir()
    paths = []
    for k in range(n_epochs):
        paths.append(str(_epoch(dbs, tmp / "p", pos, flux, k, two_pointings)))
        process_image(dbs, settings, image_path=Path(paths[-1]), mid_mjd=_mid(k, two_pointings))
    return paths, ids, n_ref


def _run(
    settings: Settings, dbs: Databases, tmp: Path, *, two_pointings: bool = False
) -> tuple[list[float | None], float]:
    """The stored noise scales and the faint sources' light-curve pull std."""
    _, ids, n_ref = _observe(settings, dbs, tmp, n_epochs=N_EPOCHS, two_pointings=two_pointings)
    with dbs.products.read() as conn:
        scales = [
            None if s is None else float(s)
            for s in conn.execute(
                sa.select(image_normalisation.c.noise_scale).order_by(
                    image_normalisation.c.image_path
                )
            ).scalars()
        ]
        rows = conn.execute(
            sa.select(photometry.c.source_id, photometry.c.peak_jyb, photometry.c.peak_err_jyb,
                      photometry.c.flags, photometry.c.image_path)
            .where(photometry.c.source_id.in_(ids[n_ref:]))
        ).all()  # fmt: skip
    # From the second epoch on (the first has no earlier image to compare with).
    first = min(r[4] for r in rows)
    lc: dict[str, list[tuple[float, float]]] = {}
    for sid, f, e, flags, img in rows:
        if img != first and not int(flags) & BAD_MASK and e:
            lc.setdefault(sid, []).append((float(f), float(e)))
    pulls: list[float] = []
    for pts in lc.values():
        f = np.array([p[0] for p in pts])
        s = np.array([p[1] for p in pts])
        w = 1.0 / s**2
        mu = float(np.sum(w * f) / np.sum(w))
        n = len(pts)
        pulls.extend(((f - mu) / s * math.sqrt(n / (n - 1))).tolist())
    return scales, float(np.std(pulls))


def test_errors_follow_the_noise_that_does_not_repeat(
    settings: Settings, dbs: Databases, tmp_path: Path
) -> None:
    scales, pull_std = _run(settings, dbs, tmp_path)
    expected = RMS_FRESH / math.hypot(RMS_STATIC, RMS_FRESH)  # 0.71
    assert scales[0] is None  # the first epoch has nothing to compare with
    measured = [s for s in scales[1:] if s is not None]
    assert len(measured) == N_EPOCHS - 1, scales
    assert abs(float(np.median(measured)) - expected) < 0.1, measured
    assert 0.85 < pull_std < 1.15, pull_std


def test_without_it_the_rms_map_overstates_the_light_curve_noise(
    settings: Settings, dbs: Databases, tmp_path: Path
) -> None:
    off = settings.model_copy(
        update={"photometry": settings.photometry.model_copy(update={"repeat_noise": False})}
    )
    scales, pull_std = _run(off, dbs, tmp_path)
    assert all(s is None for s in scales)
    assert pull_std < 0.85, pull_std  # the errors hold the static pattern too


def test_a_light_curve_that_mixes_pointings_keeps_the_rms_map_errors(
    settings: Settings, dbs: Databases, tmp_path: Path
) -> None:
    # Each source's previous measurement is at the other pointing, whose pattern differs:
    # the light curve does scatter by the patterns, so no error is scaled down.
    scales, pull_std = _run(settings, dbs, tmp_path, two_pointings=True)
    assert all(s is None for s in scales), scales
    # two interleaved offsets: scatter^2 = fresh^2 + static^2 / 2 of the rms map's 2 x 1^2
    assert 0.75 < pull_std < 1.0, pull_std


def _bright_errors(
    settings: Settings, dbs: Databases, tmp: Path, *, two_pointings: bool
) -> list[tuple[float, float, float, float, float, float]]:
    """(peak_err, raw, raw_err, c, sigma_c, beam response) of the bright references after
    the first epoch, with the scatter term off so that the error is the model's alone."""
    _, ids, n_ref = _observe(
        settings, dbs, tmp, n_epochs=4, two_pointings=two_pointings, scale_scatter=False,
        pointing_systematic=0.007,
    )  # fmt: skip
    p, n = photometry.c, image_normalisation.c
    with dbs.products.read() as conn:
        first = conn.execute(sa.select(sa.func.min(p.image_path))).scalar_one()
        rows = conn.execute(
            sa.select(p.peak_err_jyb, p.raw_peak_jyb, p.raw_peak_err_jyb, p.norm_factor,
                      n.factor_err, p.sep_from_center_deg)
            .join(image_normalisation, n.image_path == p.image_path)
            .where(p.source_id.in_(ids[:n_ref]), p.image_path != first)
        ).all()  # fmt: skip
    # the beam the photometry used: centred on the images' PBRA, PBDEC (their centre)
    return [
        (*(float(v) for v in r[:5]),
         float(airy_power(math.radians(r[5]), DSA110.centre_freq_hz,
                          dish_diameter_m=DSA110.dish_diameter_m)))
        for r in rows
    ]  # fmt: skip


def test_a_source_last_seen_from_another_pointing_carries_the_pointing_systematic(
    settings: Settings, dbs: Databases, tmp_path: Path
) -> None:
    rows = _bright_errors(settings, dbs, tmp_path, two_pointings=True)
    assert len(rows) >= 3 * 25
    for err, raw, raw_err, c, sc, pb in rows:
        # 0.7 % of the flux at the beam centre, growing as 1 / (beam response); a light
        # curve over 2 pointings sees half its variance (1 - 1/2)
        sys = math.sqrt(0.5) * 0.007 * raw / pb
        expected = math.hypot(math.hypot(raw_err, sys) / c, raw * sc / c**2)
        assert math.isclose(err, expected, rel_tol=1e-4), (err, expected)
        assert err > 1.05 * math.hypot(raw_err / c, raw * sc / c**2)  # SNR > 70: it shows


def test_a_revisit_of_the_same_pointing_does_not(
    settings: Settings, dbs: Databases, tmp_path: Path
) -> None:
    # The revisit repeats the pointing's own flux error: no light-curve scatter from it.
    # (The repeat-noise factor may lower the thermal term; nothing is added to it.)
    rows = _bright_errors(settings, dbs, tmp_path, two_pointings=False)
    assert len(rows) >= 3 * 25
    for err, raw, raw_err, c, sc, _pb in rows:
        assert err <= math.hypot(raw_err / c, raw * sc / c**2) * (1 + 1e-9)
        assert err < math.hypot(math.hypot(raw_err, 0.007 * raw) / c, raw * sc / c**2) / 1.1


def test_a_low_factor_is_raised_to_the_pointings_median(
    settings: Settings, dbs: Databases, tmp_path: Path
) -> None:
    # One image measures the factor from its pairs to ~15 %: a low draw would shrink every
    # error in it, and a dip there would look more significant than it is.
    paths, ids, n_ref = _observe(
        settings, dbs, tmp_path, n_epochs=N_EPOCHS, two_pointings=False, scale_scatter=False,
        pointing_systematic=0.0, pointing_systematic_resolved=0.0,
    )  # fmt: skip
    p, n = photometry.c, image_normalisation.c
    with dbs.products.read() as conn:
        scales = dict(conn.execute(sa.select(n.image_path, n.noise_scale)).all())
        sigma_c = dict(conn.execute(sa.select(n.image_path, n.factor_err)).all())
        rows = conn.execute(
            sa.select(p.source_id, p.image_path, p.peak_err_jyb, p.raw_peak_jyb,
                      p.raw_peak_err_jyb, p.norm_factor)
            .where(p.source_id.in_(ids[n_ref:]), p.image_path.in_(paths[-2:]))
        ).all()  # fmt: skip
    measured = [float(scales[q]) for q in paths[1:]]
    assert np.ptp(measured) > 0.01  # the images' own draws differ
    # a low draw is raised to the pointing's median; a high one is kept
    pooled = max(float(np.median(measured)), measured[-1])
    prev = {r[0]: float(r[3]) / float(r[4]) for r in rows if r[1] == paths[-2]}
    checked = 0
    for sid, img, err, raw, raw_err, c in rows:
        if img != paths[-1] or abs(prev.get(sid, 99.0)) >= 4.0:
            continue  # the faintest bin only: chosen by the previous measurement's SNR
        sc = float(sigma_c[img])
        expected = math.hypot(raw_err * pooled / c, raw * sc / c**2)
        assert math.isclose(err, expected, rel_tol=1e-6), (err, expected)
        checked += 1
    assert checked >= 50
