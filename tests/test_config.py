"""Settings: defaults, environment, overrides; nothing happens at import time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from contimg.config import get_settings

DIR_VARS = ("CONTIMG_HOME", "CONTIMG_STATE_DIR", "CONTIMG_INCOMING_DIR", "CONTIMG_PRODUCTS_DIR")


def test_defaults_derive_from_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in DIR_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    cwd = tmp_path.resolve()
    s = get_settings()
    assert s.home == cwd / "contimg-data"
    assert s.state_path == cwd / "contimg-data/state"
    assert s.incoming_path == cwd / "contimg-data/incoming"
    assert s.products_path == cwd / "contimg-data/products"
    assert s.backend == "sqlite"
    assert s.sqlite_path("master_sources") == cwd / "contimg-data/state/db/master_sources.sqlite3"


def test_directories_are_absolute_however_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Relative options, relative environment variables and the default all become
    absolute, normalised paths with symbolic links resolved (issue 19)."""
    for var in DIR_VARS:
        monkeypatch.delenv(var, raising=False)
    real = tmp_path / "real"
    (real / "sub").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONTIMG_HOME", "link/sub/../sub")
    monkeypatch.setenv("CONTIMG_PRODUCTS_DIR", "./link//prod")
    s = get_settings(state_dir=Path("link/st"))
    base = real.resolve()
    assert s.home == base / "sub"
    assert s.incoming_path == base / "sub/incoming"
    assert s.products_path == base / "prod"
    assert s.state_path == base / "st"
    monkeypatch.chdir("/")
    assert s.products_path == base / "prod"  # fixed at start-up, not per call


def test_environment_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTIMG_HOME", "/data/dsa110-contimg")
    monkeypatch.setenv("CONTIMG_PRODUCTS_DIR", "/big/products")
    monkeypatch.setenv("CONTIMG_INGEST__GROUP_TOLERANCE_S", "90")
    s = get_settings(state_dir=Path("/fast/state"), incoming_dir=None)
    assert s.state_path == Path("/fast/state")
    assert s.incoming_path == Path("/data/dsa110-contimg/incoming")
    assert s.products_path == Path("/big/products")
    assert s.ingest.group_tolerance_s == 90.0


def test_importing_everything_creates_and_connects_nothing(tmp_path: Path) -> None:
    code = (
        "import importlib, pkgutil, contimg\n"
        "for m in pkgutil.walk_packages(contimg.__path__, 'contimg.'):\n"
        "    if '.migrations.' in m.name and m.name.endswith(('.env',)): continue\n"
        "    if m.name.endswith('__main__'): continue\n"
        "    importlib.import_module(m.name)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=300)
    assert list(tmp_path.iterdir()) == []
