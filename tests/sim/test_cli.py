"""``contimg sim`` on the command line: success and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from astropy.table import Table


def contimg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from contimg.cli import main; main()", *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_catalogs_then_bad_observe_inputs(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    res = contimg("sim", "catalogs", "--out", str(cat), "--ra", "202.78", "--dec", "30.51",
                  "--radius", "0.7", "--seed", "3")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "3C286" in res.stdout
    assert len(Table.read(cat / "nvss.fits")) > 40

    out = tmp_path / "out"
    cases = [
        (["--preset", "huge"], "unknown simulation preset 'huge'"),
        (["--dec", "-70"], "cannot be observed"),
        (["--calibrator", "3C147"], "is not in the sky"),
        (["--select", "3-1"], "bad group range"),
        (["--groups", "4", "--select", "0,x"], "bad group selection"),
        (["--groups", "4", "--select", "2,5"], "not among the run's 0..3"),
        (["--calibrator", "3C286", "--groups", "4", "--select", "1-3"], "not among the selected"),
    ]
    for extra, message in cases:
        res = contimg("sim", "observe", "--out", str(out), "--catalog-dir", str(cat), *extra)
        assert res.returncode == 1 and message in res.stderr, (extra, res.stderr)
        assert "Traceback" not in res.stderr
    res = contimg("sim", "observe", "--out", str(out), "--catalog-dir", str(tmp_path / "none"))
    assert res.returncode == 1 and "does not exist" in res.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = contimg("sim", "observe", "--out", str(blocker / "o"), "--catalog-dir", str(cat))
    assert res.returncode == 1 and "cannot create output directory" in res.stderr
    assert not list(out.glob("*.hdf5"))
