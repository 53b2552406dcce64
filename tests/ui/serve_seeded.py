"""Seed a fresh simulated deployment and run ``contimg serve`` on it (for Playwright).

``python tests/ui/serve_seeded.py --home DIR --port 8765`` removes DIR, seeds it with
:mod:`tests.factories.ui`, writes the seed summary to ``DIR/seed.json`` and replaces
itself with ``contimg --home DIR serve`` (write token from CONTIMG_API__WRITE_TOKEN).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.factories.ui import CONTIMG, seed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--port", type=int, default=8765)
    args = p.parse_args()
    home = args.home.resolve()
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    summary = seed(home)
    (home / "seed.json").write_text(json.dumps(summary, indent=2))
    print(f"seeded {home}", file=sys.stderr, flush=True)
    os.execv(
        str(CONTIMG),
        [
            str(CONTIMG),
            "--home",
            str(home),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
        ],
    )


if __name__ == "__main__":
    main()
