"""The systemd units of deploy/systemd: valid for systemd, and every command and option
their ExecStart lines name exists in the ``contimg`` command."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from contimg.cli import app
from contimg.config import Settings

SYSTEMD = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
UNITS = sorted(p for p in SYSTEMD.iterdir() if p.suffix in (".service", ".target"))
SERVICES = [p for p in UNITS if p.suffix == ".service"]
SPECIFIERS = {"%H": "host", "%i": "1", "%n": "unit", "%%": "%"}


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


def _exec_start(path: Path) -> list[str]:
    line = _unit(path)["Service"]["ExecStart"]
    for spec, value in SPECIFIERS.items():
        line = line.replace(spec, value)
    return shlex.split(line.lstrip("-@:+!"))


def test_the_expected_units_exist() -> None:
    names = {p.name for p in UNITS}
    assert {
        "contimg-watcher.service",
        "contimg-worker@.service",
        "contimg-mosaic.service",
        "contimg-api.service",
        "contimg.target",
    } <= names
    for path in SERVICES:
        service = _unit(path)["Service"]
        assert service.get("Restart") in {"on-failure", "always"}, path.name
        assert service.get("EnvironmentFile") == "/etc/contimg/contimg.env", path.name


def _split(argv: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(root options, command path, command options) of a ``contimg`` argv."""
    root_cmd: Any = typer.main.get_command(app)
    root_opts: list[str] = []
    path: list[str] = []
    opts: list[str] = []
    cmd = root_cmd
    args = iter(argv)
    for tok in args:
        if tok.startswith("-"):
            name = tok.split("=", 1)[0]
            (opts if path else root_opts).append(name)
            param = next((p for p in cmd.params if name in p.opts), None)
            if param is not None and not getattr(param, "is_flag", False) and "=" not in tok:
                next(args)  # its value
        elif tok in getattr(cmd, "commands", {}):
            cmd = cmd.commands[tok]
            path.append(tok)
        else:
            raise AssertionError(f"unexpected argument {tok!r} in {argv}")
    return root_opts, path, opts


@pytest.mark.parametrize("unit", SERVICES, ids=lambda p: p.name)
def test_exec_start_names_existing_commands_and_options(unit: Path) -> None:
    argv = _exec_start(unit)
    assert Path(argv[0]).name == "contimg", argv
    root_opts, path, opts = _split(argv[1:])
    assert path, f"{unit.name}: ExecStart names no contimg command"
    runner = CliRunner()
    for prefix, named in (([], root_opts), (path, opts)):
        result = runner.invoke(app, [*prefix, "--help"], env={"COLUMNS": "250"}, terminal_width=250)
        assert result.exit_code == 0, (unit.name, prefix, result.output)
        for option in named:
            assert option in result.output, (
                f"{unit.name}: 'contimg {' '.join(prefix)}' has no {option}"
            )


def test_environment_file_names_real_settings() -> None:
    keys = []
    for line in (SYSTEMD / "contimg.env").read_text().splitlines():
        text = line.lstrip("#").strip()
        if text.startswith("CONTIMG_") and "=" in text:
            keys.append(text.split("=", 1)[0])
    assert "CONTIMG_HOME" in keys and "CONTIMG_DATABASE_URL" in keys
    for key in keys:
        parts = key.removeprefix("CONTIMG_").lower().split("__")
        model: type = Settings
        for part in parts:
            assert part in model.model_fields, f"contimg.env: {key} is not a setting"
            model = model.model_fields[part].annotation  # type: ignore[assignment]


def _analyze() -> str | None:
    return shutil.which("systemd-analyze")


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    """systemd's own check, on copies whose ExecStart is this venv's ``contimg``."""
    if _analyze() is None:
        pytest.skip("systemd-analyze is not installed here")
    contimg = Path(sys.executable).parent / "contimg"
    assert contimg.exists(), contimg
    for unit in UNITS:
        text = unit.read_text().replace("/opt/contimg/.venv/bin/contimg", str(contimg))
        (tmp_path / unit.name).write_text(text)
    (tmp_path / "contimg-worker@1.service").symlink_to(tmp_path / "contimg-worker@.service")
    targets = [tmp_path / u.name for u in UNITS if "@." not in u.name]
    targets.append(tmp_path / "contimg-worker@1.service")
    proc = subprocess.run(
        [str(_analyze()), "verify", "--man=no", *map(str, targets)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    ours = [line for line in proc.stderr.splitlines() if "contimg" in line]
    assert proc.returncode == 0 and not ours, proc.stderr


def test_systemd_analyze_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a bad key and a missing program are reported."""
    if _analyze() is None:
        pytest.skip("systemd-analyze is not installed here")
    bad = tmp_path / "contimg-bad.service"
    bad.write_text("[Service]\nExecStart=/nonexistent/contimg worker\nRestartt=always\n")
    proc = subprocess.run(
        [str(_analyze()), "verify", "--man=no", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode != 0 or "contimg-bad" in proc.stderr
    assert "Restartt" in proc.stderr


def _env_file() -> dict[str, str]:
    out = {}
    for line in (SYSTEMD / "contimg.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


@pytest.mark.parametrize("unit", SERVICES, ids=lambda p: p.name)
def test_unit_with_a_missing_state_dir_fails_fast(unit: Path, tmp_path: Path) -> None:
    """The unit's own ExecStart and environment file, CONTIMG_HOME pointing nowhere:
    exit 1 at once with the directory named, nothing created (systemd then stops
    retrying after StartLimitBurst)."""
    import os

    argv = _exec_start(unit)
    argv[0] = str(Path(sys.executable).parent / "contimg")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTIMG_")}
    env.update(_env_file())
    home = tmp_path / "missing"
    env["CONTIMG_HOME"] = str(home)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, (unit.name, proc.stderr)
    assert f"the state directory {home / 'state'} does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not home.exists()
