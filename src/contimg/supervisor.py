"""A small process supervisor: runs the pipeline's long-lived commands side by side.

Used by ``contimg demo`` (and usable for a one-machine deployment): each child is a
``contimg`` command line. Its output goes to ``<log_dir>/<name>.log``. A child that
exits unexpectedly is restarted with a growing delay; a child marked ``once`` (the
simulator, say) may finish.

Each child runs in a session (process group) of its own, so a Ctrl-C in the terminal
reaches only the supervisor. :meth:`Supervisor.stop` sends SIGTERM to every child
itself, never to the tools a child runs (a worker's WSClean or DP3): the child
decides what to do with them (a worker stops its tool and returns its group to the
queue). Only a child that has not exited after the timeout is SIGKILLed, with its
whole process group.

If the supervisor itself dies without stopping them (SIGKILL, a crash), each child
gets SIGTERM from the kernel (Linux ``PR_SET_PDEATHSIG``) and shuts down as on
Ctrl-C: nothing keeps running unsupervised. (The kernel watches the thread that
started the child: start and poll the supervisor from one long-lived thread.)
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _terminate_with(parent_pid: int) -> None:
    """In a child between fork and exec: ask for SIGTERM when ``parent_pid`` dies.

    If the parent died before the request took effect, the child terminates at once.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class Child:
    """One supervised command."""

    name: str
    argv: Sequence[str]
    once: bool = False
    """True when the command is expected to finish (then it is not restarted)."""
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    finished: bool = False
    _log: IO[bytes] | None = None


class Supervisor:
    """Start, watch and stop a set of child processes."""

    def __init__(self, children: Sequence[Child], *, log_dir: Path, max_backoff_s: float = 30.0):
        self.children = list(children)
        self.log_dir = log_dir
        self.max_backoff_s = max_backoff_s
        self._stopping = False

    def _spawn(self, child: Child) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if child._log is None:
            child._log = (self.log_dir / f"{child.name}.log").open("ab")
        env = {**os.environ, **child.env}
        parent = os.getpid()
        child.proc = subprocess.Popen(
            list(child.argv),
            stdout=child._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops children
            preexec_fn=functools.partial(_terminate_with, parent),
        )
        log.info("started %s (pid %d): %s", child.name, child.proc.pid, " ".join(child.argv))

    def start(self) -> None:
        for child in self.children:
            self._spawn(child)

    def poll(self) -> list[str]:
        """Restart children that died; return one message per event."""
        events: list[str] = []
        now = time.monotonic()
        for child in self.children:
            if child.finished or self._stopping:
                continue
            if child.proc is None:
                if now >= child.next_start:
                    self._spawn(child)
                    events.append(f"{child.name} restarted")
                continue
            code = child.proc.poll()
            if code is None:
                continue
            if child.once and code == 0:
                child.finished = True
                events.append(f"{child.name} finished")
                continue
            child.restarts += 1
            delay = min(self.max_backoff_s, 2.0 ** min(child.restarts, 5))
            child.proc = None
            child.next_start = now + delay
            events.append(
                f"{child.name} exited with code {code}; restarting in {delay:.0f} s "
                f"(log: {self.log_dir / (child.name + '.log')})"
            )
        return events

    def running(self) -> list[str]:
        return [c.name for c in self.children if c.proc is not None and c.proc.poll() is None]

    def stop(self, *, timeout_s: float = 8.0) -> None:
        """SIGTERM every child (the child process only, not its process group), wait up
        to ``timeout_s``, then SIGKILL the process group of any child still running."""
        self._stopping = True
        live = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for child in live:
            assert child.proc is not None
            child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in live:
            assert child.proc is not None
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0f s; killing it", child.name, timeout_s)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait(timeout=10)
        for child in self.children:
            if child._log is not None:
                child._log.close()
                child._log = None
