"""Building the specification's ``ESECandidate`` from a candidate row and its
source's light curve (science.md section 4):

* ``baseline_flux_jy``: the weighted mean flux mu of the good measurements;
* ``peak_flux_jy``: the flux of the measurement deviating most, |f - mu| / s;
* ``max_sigma_dev``: the source's ``sigma_deviation`` (recomputed when the
  statistics row is missing);
* ``first/last_detection_at``: the observation times (from MJD) of the first and
  last measurement that meets the candidate's rule: for 'variability' (and 'user')
  a deviation of at least :data:`DETECTION_SIGMA`; for 'rapid_change' both members
  of every consecutive pair passing the |Vs| / |m| rule. When no measurement meets
  it (the statistics were computed on other epochs), the measurement deviating most
  stands for both, so every candidate with a good measurement has its times.

Good measurements: no bad flag bit and a positive error, as for the statistics.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, cast

import numpy as np

from contimg.api.deps import load_or_404
from contimg.config import Settings
from contimg.db.engine import Database
from contimg.db.queries import api_views, listing
from contimg.db.queries.listing import Filter
from contimg.errors import ContimgError
from contimg.models import CandidateReason, CandidateStatus, ESECandidate, SpecCandidateStatus
from contimg.science.ese import SPEC_STATUS, EseThresholds, rapid_change_significance
from contimg.science.flags import BAD_MASK

DETECTION_SIGMA = 5.0
"""Deviation (sigma) at which a measurement counts as a detection of the event: the
auto-flag threshold of science.md section 4."""

MJD_UNIX_EPOCH = 40587.0


def _mjd_to_datetime(mjd: float) -> datetime:
    return datetime.fromtimestamp((mjd - MJD_UNIX_EPOCH) * 86400.0, tz=UTC)


def build_candidate(
    row: Mapping[str, Any],
    points: Iterable[Mapping[str, Any]],
    *,
    detection_sigma: float = DETECTION_SIGMA,
    rules: EseThresholds | None = None,
) -> ESECandidate:
    """``row``: an ``ese_candidates`` row joined with its source's ra/dec and
    sigma_deviation; ``points``: that source's photometry rows (peak_jyb,
    peak_err_jyb, flags, mjd, measured_at)."""
    good = [
        p
        for p in points
        if not (int(p.get("flags") or 0) & BAD_MASK)
        and p.get("peak_err_jyb") is not None
        and float(p["peak_err_jyb"]) > 0
        and np.isfinite(float(p["peak_jyb"]))
    ]
    baseline = peak = None
    first = last = None
    max_dev = row.get("sigma_deviation")
    if good:
        f = np.array([float(p["peak_jyb"]) for p in good])
        s = np.array([float(p["peak_err_jyb"]) for p in good])
        w = 1.0 / s**2
        mu = float(np.sum(w * f) / np.sum(w))
        dev = np.abs(f - mu) / s
        baseline = mu
        peak = float(f[int(np.argmax(dev))])
        if max_dev is None and len(good) >= 2:
            max_dev = float(np.max(dev))
        times: list[datetime] = [
            _mjd_to_datetime(float(p["mjd"]))
            if p.get("mjd") is not None
            else datetime.fromtimestamp(float(p["measured_at"]), tz=UTC)
            for p in good
        ]
        hit = dev >= detection_sigma
        if row.get("flag_type") == "rapid_change":
            th = rules or EseThresholds()
            order = np.argsort([t.timestamp() for t in times], kind="stable")
            hit = np.zeros(len(good), dtype=bool)
            for a, b in pairwise(order.tolist()):
                if rapid_change_significance(f[a], s[a], f[b], s[b], th) is not None:
                    hit[a] = hit[b] = True
        hits = sorted(t for t, h in zip(times, hit.tolist(), strict=True) if h)
        if not hits:
            hits = [times[int(np.argmax(dev))]]
        first, last = hits[0], hits[-1]
    ra, dec = row.get("ra_deg"), row.get("dec_deg")
    if ra is None or dec is None:  # no statistics row: the measured position
        pos = next((p for p in good), None)
        if pos is None:
            raise ContimgError(
                f"candidate {row['id']}: source {row['source_id']!r} has no position"
            )
        ra, dec = pos["ra_deg"], pos["dec_deg"]
    status = cast(CandidateStatus, str(row.get("status") or "active"))
    reason = None
    if row.get("reason"):
        try:
            reason = CandidateReason.model_validate_json(str(row["reason"]))
        except ValueError:
            reason = None  # an unreadable reason never hides the candidate
    return ESECandidate(
        id=int(row["id"]),
        source_id=str(row["source_id"]),
        ra_deg=float(ra),
        dec_deg=float(dec),
        first_detection_at=first,
        last_detection_at=last,
        max_sigma_dev=None if max_dev is None else float(max_dev),
        baseline_flux_jy=baseline,
        peak_flux_jy=peak,
        status=status,
        spec_status=cast(SpecCandidateStatus, SPEC_STATUS.get(status, status)),
        notes=row.get("notes"),
        flag_type=row.get("flag_type"),
        reason=reason,
    )


def with_points(
    db: Database,
    rows: Sequence[listing.ListingRow],
    *,
    detection_sigma: float,
    rules: EseThresholds | None = None,
) -> list[ESECandidate]:
    """Candidate rows as ESECandidate, with their sources' light curves read in one go."""
    if not rows:
        return []
    ids = sorted({r["source_id"] for r in rows})
    points: dict[str, list[listing.ListingRow]] = defaultdict(list)
    with db.read() as conn:
        for p in listing.iter_rows(
            conn, api_views.PHOTOMETRY, listing.Query.build([Filter("source_id", "in", ids)])
        ):
            points[p["source_id"]].append(p)
    return [
        build_candidate(r, points[r["source_id"]], detection_sigma=detection_sigma, rules=rules)
        for r in rows
    ]


def ese_rules_of(settings: Settings) -> dict[str, Any]:
    """The detection threshold and ESE rules of ``settings`` (keywords of :func:`with_points`)."""
    from contimg.variability.candidates import thresholds

    cfg = settings.photometry
    return {"detection_sigma": cfg.ese_sigma_deviation, "rules": thresholds(cfg)}


def candidates_for(
    db: Database, settings: Settings, filters: Sequence[Filter], *, limit: int
) -> list[ESECandidate]:
    """Candidates matching ``filters`` as ESECandidate (most significant first); a
    detection is a measurement deviating by the ESE threshold of the settings."""
    with db.read() as conn:
        rows, _ = listing.list_page(
            conn, api_views.CANDIDATES, listing.Query.build(filters), limit=limit, offset=0
        )
    return with_points(db, rows, **ese_rules_of(settings))


def candidate_or_404(db: Database, settings: Settings, candidate_id: int) -> ESECandidate:
    """One candidate as ESECandidate (:func:`candidates_for`); a 404 when there is none."""
    row = load_or_404(
        db, api_views.CANDIDATES, column="id", value=candidate_id, convert=lambda r: r,
        missing=f"no ESE candidate with id {candidate_id}",
    )  # fmt: skip
    (built,) = with_points(db, [row], **ese_rules_of(settings))
    return built
