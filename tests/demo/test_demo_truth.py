"""``contimg demo``, shortened, checked against the simulator's truth file.

The session's one shortened real demo run (fixture ``demo_run``, tests/demo_run.py:
simulator, watcher, three workers, mosaic scheduler and server as real processes,
real DP3 and WSClean, PostgreSQL; three sidereal days of the demo's schedule, the
injected source's dip from day 3). When every group is completed the candidate list
(the products database, most significant first) must hold:

* the injected ESE source at the top (only truly variable simulated sources, the
  sky's own ESE dips and flares, may rank above it);
* at most one source that the truth file (``catalogs/sky_truth.json``) says is
  constant;
* for every automatic candidate, why it was flagged (rule, significance against the
  threshold it needed, epochs).

This is the acceptance of ``make demo`` (docs/demo.md) on a shorter run. It shares
the run with tests/demo/test_demo_e2e.py and tests/ui/test_real_run.py, so it costs
no run of its own.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from contimg.config import get_settings
from contimg.db.engine import Databases
from contimg.db.products import ese_candidates
from tests.demo_run import DemoRun

pytestmark = [pytest.mark.slow, pytest.mark.tools, pytest.mark.postgres, pytest.mark.timeout(3000)]


def test_demo_candidates_against_the_truth(demo_run: DemoRun) -> None:
    home = demo_run.home
    settings = get_settings(home=home, database_url=demo_run.pg_url)
    injected = json.loads((home / "demo.json").read_text())["injected_ese"]["source_id"]
    truth = json.loads((home / "catalogs" / "sky_truth.json").read_text())
    kind = {
        s["source_id"]: "calibrator"
        if s.get("calibrator")
        else s["variability"].get("kind", "constant")
        for s in truth["sources"]
    }
    dbs = Databases(settings)
    try:
        with dbs.products.read() as conn:
            rows = conn.execute(
                sa.select(
                    ese_candidates.c.source_id,
                    ese_candidates.c.flag_type,
                    ese_candidates.c.significance,
                    ese_candidates.c.reason,
                ).order_by(ese_candidates.c.significance.desc())
            ).all()
    finally:
        dbs.dispose()
    assert rows, "no candidates"
    by_source: dict[str, float] = {}
    for sid, _ftype, sig, _reason in rows:
        by_source[sid] = max(by_source.get(sid, 0.0), float(sig))
    ranked = sorted(by_source, key=lambda s: -by_source[s])
    top = [(s, kind.get(s), round(by_source[s], 1)) for s in ranked[:6]]
    assert injected in ranked, f"the injected ESE source is not a candidate; top: {top}"
    # At the top: only sources that truly vary (the simulated sky's own ESEs and
    # flares, real events an astronomer wants too) may rank above it.
    above = ranked[: ranked.index(injected)]
    assert all(kind.get(s) in ("ese", "flare", "drop") for s in above), top
    constant = [s for s in ranked if kind.get(s, "constant") == "constant"]
    assert len(constant) <= 1, f"constant sources among the candidates: {constant}"
    # every automatic candidate says why it was flagged
    for sid, ftype, sig, reason in rows:
        why = json.loads(reason)
        assert why["rule"] == ftype and why["significance"] >= why["threshold"], (sid, why)
        assert abs(why["significance"] - float(sig)) < 1e-9 and why["epochs_mjd"], (sid, why)
