"""The supervisor restarts crashed children, lets one-shot children finish and stops
everything on request."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from contimg.supervisor import Child, Supervisor


def _wait(cond, timeout_s: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_restart_finish_and_stop(tmp_path: Path) -> None:
    py = sys.executable
    flaky = tmp_path / "ran"
    children = [
        Child("sleeper", [py, "-c", "import time; print('up', flush=True); time.sleep(600)"]),
        Child("oneshot", [py, "-c", "print('done')"], once=True),
        # Dies the first time, then stays up: must be restarted once.
        Child(
            "flaky",
            [
                py,
                "-c",
                f"import pathlib, sys, time; p = pathlib.Path({str(flaky)!r});\n"
                "if not p.exists():\n    p.write_text('x'); sys.exit(3)\ntime.sleep(600)",
            ],
        ),
    ]
    sup = Supervisor(children, log_dir=tmp_path / "logs", max_backoff_s=0.2)
    sup.start()
    events: list[str] = []
    assert _wait(
        lambda: (
            bool(events.extend(sup.poll()))
            or (set(sup.running()) == {"sleeper", "flaky"} and children[2].restarts == 1)
        )
    )
    assert any("oneshot finished" in e for e in events)
    assert any("flaky exited with code 3" in e for e in events)
    pids = [c.proc.pid for c in children if c.proc is not None and c.proc.poll() is None]
    t0 = time.monotonic()
    sup.stop(timeout_s=5)
    assert time.monotonic() - t0 < 5
    assert sup.running() == []
    for pid in pids:
        assert (
            not Path(f"/proc/{pid}").exists()
            or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
        )
    assert "up" in (tmp_path / "logs" / "sleeper.log").read_text()


def test_children_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    """SIGKILL of the supervisor: its children get SIGTERM from the kernel and exit."""
    py = sys.executable
    pid_file = tmp_path / "child.pid"
    sleeper = (
        f"import os, pathlib, time; pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()));"
        " time.sleep(600)"
    )
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from contimg.supervisor import Child, Supervisor\n"
        f"sup = Supervisor([Child('sleeper', [sys.executable, '-c', {sleeper!r}])],"
        f" log_dir=Path({str(tmp_path / 'logs')!r}))\n"
        "sup.start()\n"
        "while True:\n    sup.poll(); time.sleep(0.1)\n"
    )
    supervisor = subprocess.Popen([py, "-c", script])
    try:
        assert _wait(lambda: pid_file.exists() and pid_file.read_text() != "")
        child_pid = int(pid_file.read_text())
        assert Path(f"/proc/{child_pid}").exists()
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait(timeout=10)

        def gone() -> bool:
            try:
                status = Path(f"/proc/{child_pid}/status").read_text()
            except FileNotFoundError:
                return True
            return "zombie" in status.lower()

        assert _wait(gone, timeout_s=10), "the child outlived its supervisor"
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_stop_is_bounded_by_default(tmp_path: Path) -> None:
    """A child that ignores SIGTERM (a tool stuck in C code, say) is SIGKILLed with its
    process group: with the default timeout everything is gone within 10 s."""
    py = sys.executable
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(600)"
    )
    polite = "import time; time.sleep(600)"
    children = [Child("stubborn", [py, "-c", stubborn]), Child("polite", [py, "-c", polite])]
    sup = Supervisor(children, log_dir=tmp_path / "logs")
    sup.start()
    log = tmp_path / "logs" / "stubborn.log"
    assert _wait(lambda: log.exists() and "up" in log.read_text())
    t0 = time.monotonic()
    sup.stop()
    elapsed = time.monotonic() - t0
    assert sup.running() == []
    assert 7.5 < elapsed < 10.0, elapsed  # waited the 8 s timeout, then killed
