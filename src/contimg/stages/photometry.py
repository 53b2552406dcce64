"""Photometry stage: forced photometry, normalisation, variability and ESE flags.

For the pb-corrected image of a group (``ctx.artifacts["image_paths"]["pbcor"]``,
else the restored image; rebuilt from the ``images`` rows after a crash), in ONE
write transaction, so a killed worker leaves nothing half-done and a re-run
replaces rather than duplicates:

1. every catalog source in the image above ``photometry.flux_limit_mjy`` (plus the
   image's ``final_references``) is measured (:mod:`contimg.science.photometry`);
2. the image's flux-scale correction is derived from its references and applied
   (:mod:`contimg.science.normalisation`), baselines being set and frozen on the way;
3. ``variability_stats`` of each measured source is updated from its running state
   (``variability_sums``), in a time independent of the light curve's length;
   sources that had rows from an earlier run of this image are recomputed in full;
4. ESE rules flag 'variability' and 'rapid_change' candidates.

The functions below are also the library behind ``contimg variability`` and
``contimg ese``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from contimg.config import PhotometrySettings, Settings
from contimg.db.engine import Databases
from contimg.db.queries import ese as eq
from contimg.db.queries import photometry as pq
from contimg.db.queries import products as prq
from contimg.db.queries import variability as vq
from contimg.errors import ContimgError, NotFoundError
from contimg.imaging.fits import FitsImage, read_plane
from contimg.science import ese as ese_rules
from contimg.science import qc
from contimg.science.beams import airy_power, angular_separation_rad
from contimg.science.flags import BAD_MASK, RAW_BAD_MASK, PhotFlag
from contimg.science.normalisation import apply_correction, baseline, image_correction
from contimg.science.photometry import (
    effective_beam_gain,
    forced_photometry,
)
from contimg.science.variability import RunningSums, VariabilityStats, update_batch
from contimg.stages.base import REGISTRY, Phase, StageContext
from contimg.telescope import DSA110

log = logging.getLogger(__name__)


@dataclass
class CatalogEntry:
    source_id: str
    ra_deg: float
    dec_deg: float
    nvss_flux_mjy: float | None
    is_reference: bool = False


@dataclass
class ImageResult:
    """What one image's photometry produced."""

    image_path: str
    n_measured: int
    n_good: int
    correction: float | None
    n_refs: int
    n_candidates: int


def thresholds(cfg: PhotometrySettings) -> ese_rules.EseThresholds:
    return ese_rules.EseThresholds(
        sigma_deviation=cfg.ese_sigma_deviation,
        chi2_nu=cfg.ese_chi2_nu,
        min_obs=cfg.ese_min_obs,
        rapid_vs=cfg.rapid_vs,
        rapid_m=cfg.rapid_m,
        false_alarm=cfg.ese_false_alarm,
    )


# ---------------------------------------------------------------- catalogue
def catalog_sources_in_image(
    dbs: Databases, image: FitsImage, *, min_flux_mjy: float
) -> list[CatalogEntry]:
    """Catalog sources on the image above the flux limit, plus its final references."""
    from contimg.catalog.footprint import sources_in_image

    shape = (int(image.data.shape[0]), int(image.data.shape[1]))
    hits = sources_in_image(
        dbs.master_sources, wcs=image.wcs, shape=shape, min_flux_mjy=min_flux_mjy
    )
    refs = sources_in_image(
        dbs.master_sources, wcs=image.wcs, shape=shape, relation="final_references"
    )
    out: dict[str, CatalogEntry] = {}
    for src, _, _ in hits:
        out[src.source_id] = CatalogEntry(src.source_id, src.ra_deg, src.dec_deg, src.flux_mjy)
    for src, _, _ in refs:
        entry = out.setdefault(
            src.source_id, CatalogEntry(src.source_id, src.ra_deg, src.dec_deg, src.flux_mjy)
        )
        entry.is_reference = True
    return sorted(out.values(), key=lambda e: e.source_id)


def _header_float(header: Any, key: str) -> float | None:
    try:
        value = float(header[key])
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def image_frequency_hz(image: FitsImage) -> float:
    """Reference frequency from the FITS spectral axis, else the band centre."""
    h = image.header
    for axis in range(1, int(h.get("NAXIS", 0)) + 1):
        if str(h.get(f"CTYPE{axis}", "")).upper().startswith("FREQ"):
            value = _header_float(h, f"CRVAL{axis}")
            if value:
                return value
    return DSA110.centre_freq_hz


def image_centre_deg(image: FitsImage) -> tuple[float, float]:
    ny, nx = image.data.shape
    ra, dec = image.wcs.all_pix2world([(nx - 1) / 2.0], [(ny - 1) / 2.0], 0)
    return float(ra[0]) % 360.0, float(dec[0])


# ---------------------------------------------------------------- measurement
@dataclass
class Measured:
    entries: list[CatalogEntry]
    raw: np.ndarray
    raw_err: np.ndarray
    flags: np.ndarray
    pb: np.ndarray
    sep_deg: np.ndarray


def measure(image: FitsImage, entries: Sequence[CatalogEntry], cfg: PhotometrySettings) -> Measured:
    """Forced photometry of ``entries`` on ``image`` with primary-beam flags."""
    ra = np.array([e.ra_deg for e in entries], dtype=np.float64)
    dec = np.array([e.dec_deg for e in entries], dtype=np.float64)
    cra, cdec = image_centre_deg(image)
    pra = _header_float(image.header, "PBRA")
    pdec = _header_float(image.header, "PBDEC")
    if pra is None or pdec is None:
        pra, pdec = cra, cdec
    theta = angular_separation_rad(
        np.deg2rad(pra), np.deg2rad(pdec), np.deg2rad(ra), np.deg2rad(dec)
    )
    pb = airy_power(theta, image_frequency_hz(image), dish_diameter_m=DSA110.dish_diameter_m)
    sep = np.rad2deg(
        angular_separation_rad(np.deg2rad(cra), np.deg2rad(cdec), np.deg2rad(ra), np.deg2rad(dec))
    )
    res = forced_photometry(
        image.data, image.wcs, image.beam, ra, dec,
        pb_response=pb, pb_cut=cfg.pb_cut, blend_radius_beams=cfg.blend_radius_beams,
    )  # fmt: skip
    # Measured against the effective restored beam (CLEAN widens point sources a little).
    gain, _n = effective_beam_gain(
        image.data, image.wcs, image.beam, ra, dec,
        peak_jyb=res.peak_jyb, err_jyb=res.peak_err_jyb, flags=res.flags,
    )  # fmt: skip
    return Measured(
        list(entries), res.peak_jyb * gain, res.peak_err_jyb * gain, res.flags.copy(), pb, sep
    )


# ---------------------------------------------------------------- normalisation
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


def normalise_image(
    conn: Connection,
    *,
    image_path: str,
    m: Measured,
    mjd: float,
    cfg: PhotometrySettings,
    now: float,
    pending_baselines: list[dict[str, Any]] | None = None,
) -> tuple[np.ndarray, np.ndarray, float | None, float | None, int]:
    """Set missing baselines, compute the image's correction and apply it.

    Returns normalised flux, error, c, sigma_c and the number of references used;
    when the image cannot be normalised the raw values come back and every
    measurement gets :attr:`PhotFlag.NOT_NORMALISED`. With ``pending_baselines`` the
    new baselines are appended there instead of being inserted (the caller inserts
    them once the image has passed quality control).
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
    raw_use, err_use = m.raw[use], m.raw_err[use]
    corr = image_correction(
        raw_use, base, clip_sigma=cfg.clip_sigma, min_refs=cfg.min_references,
        # a baseline's error: about one epoch's (it is frozen from the first epochs)
        raw_err_jyb=err_use if cfg.scale_scatter else None,
        baseline_err_jyb=err_use * base / np.abs(raw_use) if cfg.scale_scatter else None,
    )  # fmt: skip
    if corr is None:
        pq.record_image_normalisation(
            conn, image_path=image_path, factor=None, factor_err=None, n_refs=len(use),
            n_rejected=0, now=now,
        )  # fmt: skip
        m.flags |= int(PhotFlag.NOT_NORMALISED)
        return m.raw.copy(), m.raw_err.copy(), None, None, len(use)
    pq.record_image_normalisation(
        conn, image_path=image_path, factor=corr.factor, factor_err=corr.factor_err,
        n_refs=corr.n_refs, n_rejected=corr.n_rejected, now=now,
    )  # fmt: skip
    norm, norm_err = apply_correction(m.raw, m.raw_err, corr)
    return norm, norm_err, corr.factor, corr.factor_err, corr.n_refs


# ---------------------------------------------------------------- variability
@dataclass
class Good:
    """One good measurement in mJy."""

    source_id: str
    f_mjy: float
    s_mjy: float
    mjd: float
    measured_at: float
    ra_deg: float
    dec_deg: float
    nvss_flux_mjy: float | None


def _stats_row(
    g: Good, st: VariabilityStats, *, last_mjd: float | None, last_at: float | None, now: float
) -> dict[str, Any]:
    return {
        "source_id": g.source_id,
        "ra_deg": g.ra_deg,
        "dec_deg": g.dec_deg,
        "nvss_flux_mjy": g.nvss_flux_mjy,
        "n_obs": st.n_obs,
        "mean_flux_mjy": st.mean_flux_mjy,
        "std_flux_mjy": st.std_flux_mjy,
        "min_flux_mjy": st.min_flux_mjy,
        "max_flux_mjy": st.max_flux_mjy,
        "chi2_nu": st.chi2_nu,
        "sigma_deviation": st.sigma_deviation,
        "eta_metric": st.eta_metric,
        "last_measured_at": last_at,
        "last_mjd": last_mjd,
        "updated_at": now,
    }


def _is_good(flags: int, err: float | None, peak: float | None) -> bool:
    return (
        not (int(flags or 0) & BAD_MASK)
        and err is not None
        and err > 0
        and peak is not None
        and math.isfinite(peak)
    )


def _nullable(values: np.ndarray) -> list[float | None]:
    """Array -> list with NaN as None (NULL)."""
    out = values.astype(object)
    out[np.isnan(values)] = None
    return list(out.tolist())


def update_variability(
    conn: Connection,
    *,
    new: Sequence[Good],
    recompute_ids: Iterable[str],
    th: ese_rules.EseThresholds,
    now: float,
) -> int:
    """Fold this image's good measurements into the running state; update stats and ESE.

    ``recompute_ids`` (sources that had rows from an earlier run of the same image)
    are rebuilt from ``photometry``. Returns the number of candidates opened or raised.

    The incremental part is vectorised: one query reads every running state, numpy
    updates them (:func:`update_batch`) and evaluates the ESE rules, and one UPSERT
    per table writes them back. Only a measurement older than its source's latest
    (an image processed out of order) asks the database for its neighbours in time.
    """
    redo = set(recompute_ids)
    incremental = [g for g in new if g.source_id not in redo]
    ids = [g.source_id for g in incremental]
    if len(set(ids)) != len(ids):
        raise ValueError("update_variability: a source has two measurements in one image")
    sums = vq.get_sums(conn, source_ids=ids)
    missing: vq.SumsRow = ("", None, None, None)
    old = [sums.get(sid, missing) for sid in ids]
    f = np.array([g.f_mjy for g in incremental], dtype=np.float64)
    s = np.array([g.s_mjy for g in incremental], dtype=np.float64)
    mjd = np.array([g.mjd for g in incremental], dtype=np.float64)
    new_states, bs = update_batch([o[0] or None for o in old], f, s)
    # the latest good measurement before this one (NaN: none recorded)
    last_mjd = np.array([o[1] for o in old], dtype=np.float64)
    last_f = np.array([o[2] for o in old], dtype=np.float64)
    last_s = np.array([o[3] for o in old], dtype=np.float64)
    known = ~np.isnan(last_mjd)
    late = known & (mjd < last_mjd)  # an image older than the source's latest
    var_thr = ese_rules.variability_threshold(bs.n_obs, th)
    rapid_thr = ese_rules.rapid_threshold(bs.n_obs, th)
    rapid = np.where(
        known & ~late,
        ese_rules.rapid_change_significances(last_f, last_s, f, s, th, vs_threshold=rapid_thr),
        np.nan,
    )
    with np.errstate(invalid="ignore"):
        var_flag = (
            (bs.n_obs >= th.min_obs) & (bs.sigma_deviation >= var_thr) & (bs.chi2_nu >= th.chi2_nu)
        )
    found_at: dict[int, list[Found]] = {}
    for i in np.flatnonzero(~np.isnan(rapid)).tolist():
        reason = rapid_reason(
            float(rapid[i]), float(rapid_thr[i]), int(bs.n_obs[i]), th,
            (float(last_mjd[i]), float(last_f[i])), (float(mjd[i]), float(f[i])),
        )  # fmt: skip
        found_at.setdefault(i, []).append((ids[i], "rapid_change", float(rapid[i]), reason))
    for i in np.flatnonzero(late).tolist():
        g = incremental[i]
        before, after = vq.neighbours(conn, source_id=g.source_id, mjd=g.mjd, bad_mask=BAD_MASK)
        for nb in (before, after):
            if nb is None:
                continue
            sig = ese_rules.rapid_change_significance(
                1e3 * nb["peak_jyb"], 1e3 * nb["peak_err_jyb"], g.f_mjy, g.s_mjy, th,
                float(rapid_thr[i]),
            )  # fmt: skip
            if sig is not None:
                pair = sorted([(float(nb["mjd"]), 1e3 * nb["peak_jyb"]), (g.mjd, g.f_mjy)])
                reason = rapid_reason(sig, float(rapid_thr[i]), int(bs.n_obs[i]), th, *pair)
                found_at.setdefault(i, []).append((g.source_id, "rapid_change", sig, reason))
    for i in np.flatnonzero(var_flag).tolist():
        sid = ids[i]
        sig = float(bs.sigma_deviation[i])
        chi2 = float(bs.chi2_nu[i])
        n_i = int(bs.n_obs[i])
        thr_i = float(var_thr[i])

        def lazy(sid: str = sid, sig: float = sig, thr: float = thr_i, n: int = n_i,
                 chi2: float = chi2) -> dict[str, Any]:  # fmt: skip
            return variability_reason_from_db(conn, sid, sig, thr, n, chi2, th)

        found_at.setdefault(i, []).append((sid, "variability", sig, lazy))
    flags_found = [flag for i in sorted(found_at) for flag in found_at[i]]

    # an out-of-order image leaves the source's latest good measurement as it was
    keep_mjd = np.where(late, last_mjd, mjd).tolist()
    keep_f = np.where(late, last_f, f).tolist()
    keep_s = np.where(late, last_s, s).tolist()
    at_now = [now] * len(ids)
    vq.upsert_sums_values(
        conn, values=list(zip(ids, new_states, keep_mjd, keep_f, keep_s, at_now, strict=True))
    )
    columns: dict[str, list[Any]] = {
        "source_id": ids,
        "ra_deg": [g.ra_deg for g in incremental],
        "dec_deg": [g.dec_deg for g in incremental],
        "nvss_flux_mjy": [g.nvss_flux_mjy for g in incremental],
        "n_obs": bs.n_obs.tolist(),
        "last_measured_at": [g.measured_at for g in incremental],
        "last_mjd": keep_mjd,
        "updated_at": at_now,
    }
    for name in ("mean_flux_mjy", "std_flux_mjy", "min_flux_mjy", "max_flux_mjy", "chi2_nu",
                 "eta_metric", "sigma_deviation"):  # fmt: skip
        columns[name] = _nullable(getattr(bs, name))
    vq.upsert_stats_values(
        conn, values=list(zip(*(columns[c] for c in vq.STATS_COLUMNS), strict=True))
    )
    if redo:
        (stats_rows, sums_rows), found = _recompute(conn, sorted(redo), th=th, now=now)
        vq.upsert_stats(conn, rows=stats_rows)
        vq.upsert_sums(conn, rows=sums_rows)
        flags_found.extend(found)
    n = 0
    for sid, ftype, sig, why in flags_found:
        n += auto_flag(conn, source_id=sid, flag_type=ftype, significance=sig, now=now, reason=why)
    return n


Reason = dict[str, Any] | Callable[[], dict[str, Any]] | None
Found = tuple[str, str, float, Reason]
"""(source id, flag type, significance, why: a dict or a function building it)."""

MAX_REASON_EPOCHS = 50


def rapid_reason(
    sig: float, thr: float, n_obs: int, th: ese_rules.EseThresholds,
    a: tuple[float, float], b: tuple[float, float],
) -> dict[str, Any]:  # fmt: skip
    """Why a 'rapid_change' candidate was flagged: the pair (mjd, flux mJy) a -> b."""
    m = 2.0 * (a[1] - b[1]) / (a[1] + b[1]) if (a[1] + b[1]) != 0 else None
    return {
        "rule": "rapid_change",
        "significance": sig,
        "threshold": thr,
        "base_threshold": th.rapid_vs,
        "false_alarm": th.false_alarm,
        "n_obs": n_obs,
        "m": None if m is None else abs(m),
        "m_threshold": th.rapid_m,
        "epochs_mjd": [a[0], b[0]],
        "fluxes_mjy": [a[1], b[1]],
    }


def variability_reason(
    sig: float, thr: float, n_obs: int, chi2: float, th: ese_rules.EseThresholds,
    mjd: Sequence[float], f: Sequence[float], s: Sequence[float],
) -> dict[str, Any]:  # fmt: skip
    """Why a 'variability' candidate was flagged, with the epochs deviating >= threshold."""
    fa, sa = np.asarray(f, dtype=np.float64), np.asarray(s, dtype=np.float64)
    w = 1.0 / sa**2
    mu = float(np.sum(w * fa) / np.sum(w)) if fa.size else float("nan")
    dev = (fa - mu) / sa if fa.size else fa
    hit = np.flatnonzero(np.abs(dev) >= thr)[:MAX_REASON_EPOCHS]
    return {
        "rule": "variability",
        "significance": sig,
        "threshold": thr,
        "base_threshold": th.sigma_deviation,
        "false_alarm": th.false_alarm,
        "n_obs": n_obs,
        "min_obs": th.min_obs,
        "chi2_nu": chi2,
        "chi2_threshold": th.chi2_nu,
        "mean_flux_mjy": mu,
        "epochs_mjd": [float(mjd[i]) for i in hit],
        "deviations_sigma": [float(dev[i]) for i in hit],
    }


def variability_reason_from_db(
    conn: Connection, sid: str, sig: float, thr: float, n_obs: int, chi2: float,
    th: ese_rules.EseThresholds,
) -> dict[str, Any]:  # fmt: skip
    good = [
        r for r in pq.source_measurements(conn, source_ids=[sid])
        if _is_good(r["flags"], r["peak_err_jyb"], r["peak_jyb"])
    ]  # fmt: skip
    return variability_reason(
        sig, thr, n_obs, chi2, th, [float(r["mjd"] or 0.0) for r in good],
        [1e3 * r["peak_jyb"] for r in good], [1e3 * r["peak_err_jyb"] for r in good],
    )  # fmt: skip


def _recompute(
    conn: Connection, source_ids: Sequence[str] | None, *, th: ese_rules.EseThresholds, now: float
) -> tuple[tuple[list[dict[str, Any]], list[dict[str, Any]]], list[Found]]:
    """Statistics and running state from scratch (from ``photometry``)."""
    rows = pq.source_measurements(conn, source_ids=source_ids)
    stats_rows: list[dict[str, Any]] = []
    sums_rows: list[dict[str, Any]] = []
    found: list[Found] = []
    by_source: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_source.setdefault(r["source_id"], []).append(r)
    for sid, meas in by_source.items():
        good = [r for r in meas if _is_good(r["flags"], r["peak_err_jyb"], r["peak_jyb"])]
        if not good:
            continue
        f = [1e3 * r["peak_jyb"] for r in good]
        s = [1e3 * r["peak_err_jyb"] for r in good]
        state = RunningSums()
        state.extend(f, s)
        st = state.stats()
        last = good[-1]
        g = Good(
            sid,
            f[-1],
            s[-1],
            last["mjd"],
            last["measured_at"],
            last["ra_deg"],
            last["dec_deg"],
            last["nvss_flux_mjy"],
        )
        last_mjd = max((r["mjd"] for r in good if r["mjd"] is not None), default=None)
        last_at = max(r["measured_at"] for r in good)
        stats_rows.append(_stats_row(g, st, last_mjd=last_mjd, last_at=last_at, now=now))
        sums_rows.append({
            "source_id": sid, "state": state.to_text(), "last_good_mjd": last["mjd"],
            "last_good_flux_mjy": f[-1], "last_good_err_mjy": s[-1], "updated_at": now,
        })  # fmt: skip
        var_sig = ese_rules.variability_significance(st.n_obs, st.chi2_nu, st.sigma_deviation, th)
        mjds = [float(r["mjd"] or 0.0) for r in good]
        if var_sig is not None:
            thr = float(ese_rules.variability_threshold(st.n_obs, th))
            assert st.chi2_nu is not None
            reason = variability_reason(var_sig, thr, st.n_obs, st.chi2_nu, th, mjds, f, s)
            found.append((sid, "variability", var_sig, reason))
        pair = ese_rules.rapid_change_pair(f, s, th)
        if pair is not None:
            k, sig = pair
            thr = float(ese_rules.rapid_threshold(len(f), th))
            reason = rapid_reason(sig, thr, len(f), th, (mjds[k], f[k]), (mjds[k + 1], f[k + 1]))
            found.append((sid, "rapid_change", sig, reason))
    return (stats_rows, sums_rows), found


def recompute_variability(
    dbs: Databases, settings: Settings, *, now: float | None = None
) -> tuple[int, int]:
    """Rebuild every ``variability_stats`` row and running state from ``photometry``.

    Stats rows of sources without good measurements are removed unless an ESE
    candidate refers to them. Candidates are raised/opened by the same rules.
    Returns (sources with statistics, candidates opened or raised).
    """
    now = time.time() if now is None else now
    th = thresholds(settings.photometry)
    with dbs.products.write() as conn:
        (stats_rows, sums_rows), found = _recompute(conn, None, th=th, now=now)
        vq.delete_sums_and_orphan_stats(conn, keep_ids=[r["source_id"] for r in stats_rows])
        vq.upsert_stats(conn, rows=stats_rows)
        vq.upsert_sums(conn, rows=sums_rows)
        n = sum(
            auto_flag(conn, source_id=sid, flag_type=ft, significance=sig, now=now, reason=why)
            for sid, ft, sig, why in found
        )
    return len(stats_rows), n


# ---------------------------------------------------------------- ESE candidates
def _reason_json(reason: Reason) -> str | None:
    import json

    if reason is None:
        return None
    value = reason() if callable(reason) else reason
    return json.dumps(value, allow_nan=False, default=float)


def auto_flag(
    conn: Connection, *, source_id: str, flag_type: str, significance: float, now: float,
    reason: Reason = None,
) -> int:  # fmt: skip
    """Open or raise the automatic candidate of a source and type; 1 if anything changed.

    An active candidate has its significance raised (never a second row), and its
    ``reason`` replaced by the stronger detection's. After a person has closed one
    (investigated/dismissed), a new active candidate is opened only when the new
    significance exceeds the closed one's.
    """
    current = eq.open_candidate(conn, source_id=source_id, flag_type=flag_type)
    if current is not None:
        if significance > float(current["significance"]):
            eq.raise_significance(
                conn, candidate_id=int(current["id"]), significance=significance,
                reason=_reason_json(reason),
            )  # fmt: skip
            return 1
        return 0
    closed = eq.latest_closed(conn, source_id=source_id, flag_type=flag_type)
    if closed is not None and significance <= float(closed["significance"]):
        return 0
    eq.insert_candidate(
        conn, source_id=source_id, flag_type=flag_type, significance=significance, now=now,
        flagged_by="auto", notes=None, reason=_reason_json(reason),
    )  # fmt: skip
    return 1


def user_flag(
    dbs: Databases, *, source_id: str, note: str, author: str, now: float | None = None
) -> int:
    """Flag a source by hand ('user' candidate); returns the candidate id.

    Needs the source's ``variability_stats`` row (foreign key): built from its
    photometry when missing. An open 'user' candidate gets the note appended.
    """
    now = time.time() if now is None else now
    th_sig = None
    with dbs.products.write() as conn:
        stats = vq.get_stats(conn, source_id=source_id)
        if stats is None:
            (rows, sums), _ = _recompute(conn, [source_id], th=ese_rules.EseThresholds(), now=now)
            if not rows:
                raise NotFoundError(
                    f"source {source_id!r} has no good photometry, so no variability_stats row to "
                    "attach a candidate to; check the id with 'contimg ese list' or the catalog"
                )
            vq.upsert_stats(conn, rows=rows)
            vq.upsert_sums(conn, rows=sums)
            stats = rows[0]
        th_sig = stats.get("sigma_deviation") or 0.0
        current = eq.open_candidate(conn, source_id=source_id, flag_type="user")
        if current is not None:
            notes = ese_rules.append_note(current["notes"], note, author=author, at=now)
            eq.update_candidate(conn, candidate_id=int(current["id"]), values={"notes": notes})
            return int(current["id"])
        return eq.insert_candidate(
            conn, source_id=source_id, flag_type="user", significance=float(th_sig), now=now,
            flagged_by=author, notes=ese_rules.append_note(None, note, author=author, at=now),
        )  # fmt: skip


def set_candidate_status(
    dbs: Databases,
    *,
    candidate_id: int,
    status: str,
    note: str,
    author: str,
    now: float | None = None,
) -> dict[str, Any]:
    """Move a candidate through the workflow, appending a dated note; returns the row."""
    now = time.time() if now is None else now
    status = ese_rules.normalise_status(status)
    with dbs.products.write() as conn:
        row = eq.get_candidate(conn, candidate_id=candidate_id)
        if row is None:
            raise NotFoundError(f"ESE candidate {candidate_id} does not exist")
        old = str(row["status"] or "active")
        try:
            ese_rules.check_transition(old, status)
        except ValueError as exc:
            raise ContimgError(f"candidate {candidate_id}: {exc}") from None
        if status == "active":
            other = eq.open_candidate(conn, source_id=row["source_id"], flag_type=row["flag_type"])
            if other is not None:
                raise ContimgError(
                    f"candidate {candidate_id}: source {row['source_id']} already has an active "
                    f"{row['flag_type']!r} candidate ({other['id']}); add notes there instead"
                )
        values: dict[str, Any] = {
            "status": status,
            "notes": ese_rules.append_note(
                row["notes"], note, author=author, at=now, change=f"{old}->{status}"
            ),
        }
        if status == "investigated":
            values["investigated_at"] = now
        elif status == "dismissed":
            values["dismissed_at"] = now
        eq.update_candidate(conn, candidate_id=candidate_id, values=values)
        updated = eq.get_candidate(conn, candidate_id=candidate_id)
    assert updated is not None
    return updated


# ---------------------------------------------------------------- one image
def process_image(
    dbs: Databases,
    settings: Settings,
    *,
    image_path: Path,
    mid_mjd: float,
    now: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> ImageResult:
    """Photometry, normalisation, variability and ESE for one image (one transaction)."""
    cfg = settings.photometry
    now = time.time() if now is None else now
    report = progress or (lambda msg: log.info("%s", msg))
    key = str(image_path)
    image, qc_res = qc.check_image(read_plane(image_path))
    if image is None:
        return _reject_unmeasurable(dbs, settings, key, qc_res, now=now, report=report)
    entries = catalog_sources_in_image(dbs, image, min_flux_mjy=cfg.flux_limit_mjy)
    report(f"photometry: {len(entries)} catalog sources in {image_path.name}")
    m = measure(image, entries, cfg)
    with dbs.products.write() as conn:
        info = pq.image_row(conn, path=key)
        if info is None:
            raise ContimgError(
                f"image {key} has no 'images' row; the imaging stage records it before photometry"
            )
        survey = qc.medians(pq.accepted_qc_rows(conn, exclude=key))
        field = (
            qc.medians(pq.accepted_qc_rows(conn, exclude=key, field_name=info["field_name"]))
            if info.get("field_name")
            else survey  # no field recorded: the noise is compared with every image's
        )
        qc.compare_with_survey(qc_res, survey, field)
        if qc_res.reasons:
            m.flags |= int(PhotFlag.QC_REJECTED)
        previous = pq.replace_image_photometry(conn, image_path=key, rows=[])
        pending: list[dict[str, Any]] = []
        norm, norm_err, c, c_err, n_refs = normalise_image(
            conn, image_path=key, m=m, mjd=mid_mjd, cfg=cfg, now=now, pending_baselines=pending
        )
        if not qc_res.reasons:
            qc.compare_scale(qc_res, c, survey)
            if qc_res.reasons:
                m.flags |= int(PhotFlag.QC_REJECTED)
        if not qc_res.reasons:
            pq.insert_baselines(conn, rows=pending)
        else:
            report(f"photometry: {image_path.name} rejected by quality control: "
                   + "; ".join(qc_res.reasons))  # fmt: skip
        pq.record_image_qc(conn, row=qc_res.row(key, now))
        rows = []
        good: list[Good] = []
        for i, e in enumerate(entries):
            flags = int(m.flags[i])
            finite = math.isfinite(norm[i]) and math.isfinite(norm_err[i])
            peak = float(norm[i]) if finite else 0.0
            err = float(norm_err[i]) if finite else None
            snr = peak / err if err else None
            raw = float(m.raw[i]) if math.isfinite(m.raw[i]) else None
            raw_err = float(m.raw_err[i]) if math.isfinite(m.raw_err[i]) else None
            rows.append((
                key, e.source_id, e.ra_deg, e.dec_deg, e.nvss_flux_mjy, peak, err, snr, now,
                mid_mjd, float(m.sep_deg[i]), flags, raw, raw_err, c, c_err,
            ))  # fmt: skip
            if finite and _is_good(flags, err, peak):
                assert err is not None
                good.append(
                    Good(
                        e.source_id,
                        1e3 * peak,
                        1e3 * err,
                        mid_mjd,
                        now,
                        e.ra_deg,
                        e.dec_deg,
                        e.nvss_flux_mjy,
                    )
                )
        pq.insert_photometry(conn, rows=rows)
        n_cand = update_variability(
            conn, new=good, recompute_ids=previous, th=thresholds(cfg), now=now
        )
        image_info = pq.image_row(conn, path=key)
        if image_info is not None:
            prq.set_ms_stage(
                conn, path=str(image_info["ms_path"]), stage="photometry_complete", status="ok",
                now=now,
            )  # fmt: skip
    report(
        f"photometry: {len(rows)} rows ({len(good)} good), correction "
        f"{'none' if c is None else f'{c:.4f}'} from {n_refs} references, {n_cand} ESE updates"
    )
    return ImageResult(key, len(rows), len(good), c, n_refs, n_cand)


def _reject_unmeasurable(
    dbs: Databases, settings: Settings, key: str, qc_res: qc.QcResult, *, now: float,
    report: Callable[[str], None],
) -> ImageResult:  # fmt: skip
    """Record an image that cannot be measured (quality control) without measuring it.

    Rows from an earlier run of the image are kept, flagged ``QC_REJECTED``, and their
    sources' statistics recomputed without them: nothing stored is lost.
    """
    th = thresholds(settings.photometry)
    with dbs.products.write() as conn:
        info = pq.image_row(conn, path=key)
        if info is None:
            raise ContimgError(
                f"image {key} has no 'images' row; the imaging stage records it before photometry"
            )
        pq.record_image_qc(conn, row=qc_res.row(key, now))
        touched = pq.flag_image_rows(conn, image_path=key, bit=int(PhotFlag.QC_REJECTED))
        if touched:
            (stats_rows, sums_rows), _found = _recompute(conn, touched, th=th, now=now)
            vq.upsert_stats(conn, rows=stats_rows)
            vq.upsert_sums(conn, rows=sums_rows)
        prq.set_ms_stage(
            conn, path=str(info["ms_path"]), stage="photometry_complete", status="ok", now=now
        )
    report(f"photometry: {Path(key).name} rejected by quality control, not measured: "
           + "; ".join(qc_res.reasons))  # fmt: skip
    return ImageResult(key, 0, 0, None, 0, 0)


def _image_and_mjd(ctx: StageContext) -> tuple[Path, float]:
    """The image to measure and the observation mid-time, from artifacts or the database."""
    paths = ctx.artifacts.get("image_paths") or {}
    mid = ctx.artifacts.get("mid_mjd")
    chosen = paths.get("pbcor") or paths.get("image")
    if chosen is None or mid is None:
        ms_path = ctx.artifacts.get("ms_path") or ctx.workdir / f"{ctx.group_id}.ms"
        with ctx.dbs.products.read() as conn:
            ms = prq.get_ms(conn, path=str(ms_path))
            rows = prq.images_for_ms(conn, ms_path=str(ms_path))
        if ms is None:
            raise ContimgError(
                f"group {ctx.group_id}: no ms_index row for {ms_path}; "
                "run conversion and imaging first"
            )
        by_type = {r["type"]: r["path"] for r in rows}
        if chosen is None:
            chosen = by_type.get("pbcor") or by_type.get("image")
        if mid is None:
            mid = ms["mid_mjd"]
    if chosen is None:
        raise ContimgError(f"group {ctx.group_id}: no image recorded; run imaging first")
    if mid is None:
        raise ContimgError(f"group {ctx.group_id}: the MS has no mid_mjd")
    return Path(chosen), float(mid)


class PhotometryStage:
    """Forced photometry, normalisation, variability and ESE of a group's image."""

    name = "photometry"
    phase: Phase = "fresh"

    def run(self, ctx: StageContext) -> None:
        from contimg.stages.image import is_calibrator_group

        if not ctx.settings.imaging.calibrator_groups and (
            ctx.artifacts.get("image_skipped") or is_calibrator_group(ctx)
        ):
            ctx.progress("calibrator transit: not imaged, nothing to measure")
            return
        t0 = time.perf_counter()
        image_path, mid = _image_and_mjd(ctx)
        result = process_image(
            ctx.dbs, ctx.settings, image_path=image_path, mid_mjd=mid, progress=ctx.progress
        )
        ctx.artifacts["photometry"] = result
        ctx.timings_s["photometry_time"] = time.perf_counter() - t0


REGISTRY.register(PhotometryStage(), order=40)
