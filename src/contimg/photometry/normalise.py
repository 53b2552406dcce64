"""The image's flux-scale correction from its references (baselines set on the way)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from contimg.config import PhotometrySettings
from contimg.db.queries import photometry as pq
from contimg.photometry.measure import Measured
from contimg.science.crossmatch import angular_separation_deg
from contimg.science.flags import RAW_BAD_MASK, PhotFlag
from contimg.science.noise import RepeatNoise, repeat_noise_scale
from contimg.science.normalisation import (
    Correction,
    apply_correction,
    baseline,
    image_correction,
)


def bright_references(m: Measured, ref_idx: list[int], cfg: PhotometrySettings) -> list[int]:
    """The references that pin the flux scale well: expected SNR (catalog flux times
    the primary beam over the local noise: independent of this image's noise draw,
    so the choice does not bias c) at least ``reference_min_snr``, topped up with the
    next brightest to ``reference_min_count``. A median over many faint references
    is noisier than one over a few bright ones: at SNR 10 each ratio scatters by
    ~14 %, at SNR 100 by ~1.4 %."""
    if cfg.reference_min_snr <= 0 or not ref_idx:
        return ref_idx
    expected = np.array(
        [
            (m.entries[i].nvss_flux_mjy or 0.0) * 1e-3 * m.pb[i] / m.raw_err[i]
            if m.raw_err[i] > 0 else 0.0
            for i in ref_idx
        ]
    )  # fmt: skip
    order = np.argsort(-expected, kind="stable")
    n_bright = int(np.sum(expected >= cfg.reference_min_snr))
    n = min(len(ref_idx), max(n_bright, cfg.reference_min_count))
    return sorted(ref_idx[k] for k in order[:n])


def pointing_error(m: Measured, cfg: PhotometrySettings) -> np.ndarray:
    """The flux error one pointing gives each source (Jy, primary-beam corrected).

    Each pointing puts a source elsewhere in the field and on the pixel grid, and CLEAN
    and the gridding recover its flux with an error of their own, which a revisit of the
    same pointing repeats: ``cfg.pointing_systematic`` (``..._resolved`` for sources
    the catalogue resolves) of the flux, over the beam response (docs/photometry.md).
    """
    frac = np.array(
        [cfg.pointing_systematic_resolved if e.resolved else cfg.pointing_systematic
         for e in m.entries], dtype=np.float64,
    )  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(frac * np.abs(m.raw) / np.clip(m.pb, 0.05, 1.0), dtype=np.float64)


def normalise_image(
    conn: Connection,
    *,
    image_path: str,
    m: Measured,
    mjd: float,
    cfg: PhotometrySettings,
    now: float,
    pending_baselines: list[dict[str, Any]] | None = None,
    centre_deg: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, float | None, float | None, int]:
    """Set missing baselines, compute the image's correction and apply it.

    Returns normalised flux, error, c, sigma_c and the number of references used;
    when the image cannot be normalised the raw values come back and every
    measurement gets :attr:`PhotFlag.NOT_NORMALISED`. With ``pending_baselines`` the
    new baselines are appended there instead of being inserted (the caller inserts
    them once the image has passed quality control). With ``centre_deg`` (the image
    centre's RA, Dec) and ``cfg.repeat_noise`` the thermal term of the errors is
    split by the image's repeat-noise factor (:func:`repeat_noise`) into the noise that
    is fresh in every epoch and the pattern that repeats at a pointing; the pattern and
    the pointing's own flux error (:func:`pointing_error`) count as much as the source's
    light curve sees of them: ``1 - 1/n`` over ``n`` pointings (:func:`pointings_seen`).
    """
    good_raw = ((m.flags & RAW_BAD_MASK) == 0) & np.isfinite(m.raw) & (m.raw_err > 0)
    ref_idx = [
        i for i, e in enumerate(m.entries)
        if e.is_reference and good_raw[i] and m.pb[i] >= cfg.reference_pb_min
    ]  # fmt: skip
    ref_idx = bright_references(m, ref_idx, cfg)
    ids = [m.entries[i].source_id for i in ref_idx]
    baselines = pq.get_baselines(conn, source_ids=ids)
    missing = [i for i in ref_idx if m.entries[i].source_id not in baselines]
    if missing:
        history = pq.good_raw_history(
            conn, source_ids=[m.entries[i].source_id for i in missing],
            bad_mask=RAW_BAD_MASK, limit=cfg.baseline_epochs,
        )  # fmt: skip
        new_rows = []
        for i in missing:
            sid = m.entries[i].source_id
            series = sorted([*history.get(sid, []), (mjd, float(m.raw[i]))])[: cfg.baseline_epochs]
            value = baseline(
                [v for _, v in series], max_epochs=cfg.baseline_epochs,
                min_epochs=cfg.baseline_min_epochs,
            )  # fmt: skip
            if value is not None and value > 0:
                baselines[sid] = value
                new_rows.append(
                    {"source_id": sid, "baseline_jyb": value, "n_epochs": len(series),
                     "first_mjd": series[0][0], "last_mjd": series[-1][0], "set_at": now}
                )  # fmt: skip
        if pending_baselines is None:
            pq.insert_baselines(conn, rows=new_rows)
        else:
            pending_baselines.extend(new_rows)
    use = [i for i in ref_idx if m.entries[i].source_id in baselines]
    base = np.array([baselines[m.entries[i].source_id] for i in use], dtype=np.float64)
    raw_use = m.raw[use]

    def correction(err: np.ndarray) -> Correction | None:
        return image_correction(
            raw_use, base, clip_sigma=cfg.clip_sigma, min_refs=cfg.min_references,
            # a baseline's error: about one epoch's (it is frozen from the first epochs)
            raw_err_jyb=err[use] if cfg.scale_scatter else None,
            baseline_err_jyb=err[use] * base / np.abs(raw_use) if cfg.scale_scatter else None,
        )  # fmt: skip

    corr = correction(m.raw_err)
    if corr is None:
        pq.record_image_normalisation(
            conn, image_path=image_path, factor=None, factor_err=None, n_refs=len(use),
            n_rejected=0, now=now,
        )  # fmt: skip
        m.flags |= int(PhotFlag.NOT_NORMALISED)
        return m.raw.copy(), m.raw_err.copy(), None, None, len(use)
    # c does not depend on the errors; the scatter term does, so it is estimated again
    # with the errors the repeat noise gives.
    rn, pair_image = (None, None)
    model_err = m.raw_err
    systematic = cfg.pointing_systematic > 0 or cfg.pointing_systematic_resolved > 0
    if cfg.repeat_noise and centre_deg is not None:
        rn, pair_image, prev_snr = repeat_noise(
            conn, image_path=image_path, m=m, good_raw=good_raw, mjd=mjd, factor=corr.factor,
            centre_deg=centre_deg, cfg=cfg,
        )  # fmt: skip
    if (rn is not None or systematic) and centre_deg is not None:
        # The terms that repeat at a pointing are a fixed offset per pointing: a light
        # curve over n pointings scatters by (1 - 1/n) of their variance about its mean.
        mix = 1.0 - 1.0 / pointings_seen(
            conn, m=m, good_raw=good_raw, mjd=mjd, centre_deg=centre_deg, cfg=cfg
        )
        var = m.raw_err**2
        if rn is not None:
            applied = pooled_repeat_noise(conn, rn=rn, mjd=mjd, centre_deg=centre_deg, cfg=cfg)
            with np.errstate(invalid="ignore", divide="ignore"):
                snr = np.where(np.isfinite(prev_snr), prev_snr, np.abs(m.raw) / m.raw_err)
            r2 = applied.factor(snr) ** 2
            var = r2 * m.raw_err**2 + mix * np.clip(1.0 - r2, 0.0, None) * m.raw_err**2
        if systematic:
            var = var + mix * pointing_error(m, cfg) ** 2
        model_err = np.sqrt(var)
        corr = correction(model_err) or corr
    pq.record_image_normalisation(
        conn, image_path=image_path, factor=corr.factor, factor_err=corr.factor_err,
        n_refs=corr.n_refs, n_rejected=corr.n_rejected, now=now,
        noise_scale=rn.scale if rn else None, noise_pairs=sum(rn.n_pairs) if rn else None,
        noise_pair_image=pair_image if rn else None,
    )  # fmt: skip
    norm, norm_err = apply_correction(m.raw, model_err, corr)
    return norm, norm_err, corr.factor, corr.factor_err, corr.n_refs


def repeat_noise(
    conn: Connection, *, image_path: str, m: Measured, good_raw: np.ndarray, mjd: float,
    factor: float, centre_deg: tuple[float, float], cfg: PhotometrySettings,
) -> tuple[RepeatNoise | None, str | None, np.ndarray]:  # fmt: skip
    """The image's repeat-noise factors, and the SNR each source's factor is chosen by.

    Each source is paired with its latest earlier good measurement (within
    ``repeat_noise_lookback_days``): the pair its light curve will hold. Only pairs
    from an image of the same pointing (centre within ``repeat_noise_max_offset_deg``)
    cancel the repeating pattern, so the factors are measured on those. Both images'
    fluxes are normalised (this one's by ``factor``). Returns the factors (None: too
    few same-pointing pairs), the earlier image most pairs came from, and each source's
    SNR in its earlier measurement (NaN: none): the SNR its factor is chosen by. This
    image's own SNR would give a downward fluctuation the smaller factor of a fainter
    bin, and so the significance of a dip that is not there.
    """
    idx = [i for i in range(len(m.entries)) if good_raw[i]]
    then = pq.earlier_measurements(
        conn, source_ids=[m.entries[i].source_id for i in idx], before_mjd=mjd,
        after_mjd=mjd - cfg.repeat_noise_lookback_days, bad_mask=RAW_BAD_MASK,
        exclude=image_path,
    )  # fmt: skip
    centres = pq.image_centres(conn, paths=sorted({p.image_path for p in then.values()}))
    at_pointing = {
        path for path, (ra, dec) in centres.items()
        if float(angular_separation_deg(centre_deg[0], centre_deg[1], ra, dec))
        <= cfg.repeat_noise_max_offset_deg
    }  # fmt: skip
    # (index here, earlier normalised flux and error, earlier image) of each pair
    pairs = [
        (i, p.raw_jyb / p.norm_factor, p.raw_err_jyb / p.norm_factor, p.image_path)
        for i in idx
        if (p := then.get(m.entries[i].source_id)) is not None
        and p.image_path in at_pointing and p.norm_factor
    ]  # fmt: skip
    prev_snr = np.full(len(m.entries), np.nan)
    for i in idx:
        if (p := then.get(m.entries[i].source_id)) is not None and p.raw_err_jyb > 0:
            prev_snr[i] = abs(p.raw_jyb) / p.raw_err_jyb
    if not pairs:
        return None, None, prev_snr
    now_i = [q[0] for q in pairs]
    rn = repeat_noise_scale(
        m.raw[now_i] / factor, m.raw_err[now_i] / factor, [q[1] for q in pairs],
        [q[2] for q in pairs], min_pairs=cfg.repeat_noise_min_pairs,
    )  # fmt: skip
    return rn, Counter(q[3] for q in pairs).most_common(1)[0][0], prev_snr


def pointings_seen(
    conn: Connection, *, m: Measured, good_raw: np.ndarray, mjd: float,
    centre_deg: tuple[float, float], cfg: PhotometrySettings,
) -> np.ndarray:  # fmt: skip
    """How many pointings each source's light curve holds: this image's and those of its
    latest ``cfg.pointing_history - 1`` earlier good measurements (within
    ``repeat_noise_history_days``), centres within ``repeat_noise_max_offset_deg``
    counting as one. 1 for a source seen from this pointing only."""
    ids = [e.source_id for e in m.entries]
    history = pq.recent_centres(
        conn, source_ids=[ids[i] for i in np.flatnonzero(good_raw)], before_mjd=mjd,
        after_mjd=mjd - cfg.repeat_noise_history_days, bad_mask=RAW_BAD_MASK,
        limit=max(0, cfg.pointing_history - 1),
    )  # fmt: skip
    out = np.ones(len(ids))
    for i, sid in enumerate(ids):
        seen = [centre_deg]
        for ra, dec in history.get(sid, []):
            sep = angular_separation_deg(
                ra, dec, np.array([c[0] for c in seen]), np.array([c[1] for c in seen])
            )
            if bool(np.all(np.asarray(sep) > cfg.repeat_noise_max_offset_deg)):
                seen.append((ra, dec))
        out[i] = len(seen)
    return out


def pooled_repeat_noise(
    conn: Connection, *, rn: RepeatNoise, mjd: float, centre_deg: tuple[float, float],
    cfg: PhotometrySettings,
) -> RepeatNoise:  # fmt: skip
    """This image's factors, raised to the median faintest-bin factor of the latest
    ``cfg.repeat_noise_images`` images of the same pointing (this one included) when
    they are below it.

    The fraction of the noise that repeats is a property of the pointing's sky and
    uv coverage, stable from day to day; one image measures it from ~80 pairs to ~15 %.
    A low draw shrinks every error in the image and makes false dips, so it is limited
    by the pointing's median; a high one may be real (an image with more fresh noise:
    worse calibration, interference) and is kept. Each image keeps its own measured
    scale in ``image_normalisation.noise_scale``.
    """
    if cfg.repeat_noise_images <= 1:
        return rn
    # newest first; the Dec band only narrows what the separation below tests
    band = cfg.repeat_noise_max_offset_deg
    rows = pq.recent_noise_scales(
        conn, before_mjd=mjd, after_mjd=mjd - cfg.repeat_noise_history_days,
        dec_min_deg=centre_deg[1] - band, dec_max_deg=centre_deg[1] + band,
    )  # fmt: skip
    if not rows or rn.scale <= 0:
        return rn
    sep = angular_separation_deg(
        centre_deg[0], centre_deg[1], np.array([r.ra_deg for r in rows]),
        np.array([r.dec_deg for r in rows]),
    )  # fmt: skip
    at = np.flatnonzero(np.asarray(sep) <= cfg.repeat_noise_max_offset_deg)
    earlier = [rows[i].noise_scale for i in at[: cfg.repeat_noise_images - 1]]
    if not earlier:
        return rn
    k = float(np.median([rn.scale, *earlier])) / rn.scale
    if k <= 1.0:
        return rn  # the image's own factor says more of its noise is fresh: trust it
    return RepeatNoise(scales=tuple(s * k for s in rn.scales), n_pairs=rn.n_pairs)
