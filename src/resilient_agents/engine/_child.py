"""The life of a child process we start, log and stop, shared by the engine and service processes.

Private module.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import weakref
from pathlib import Path
from typing import IO

LOG_TAIL_LINES = 30
KEEP_LOGS = 3
"""How many previous logs :func:`rotate_log` keeps (``<name>.1`` is the newest)."""


def rotate_log(path: Path, keep: int = KEEP_LOGS) -> None:
    """Move ``path`` to ``path.1`` (``.1`` to ``.2``, ...), keeping ``keep`` previous logs and dropping older ones.

    Args:
        path: The current log file; nothing happens to it when it does not exist.
        keep: How many previous logs to keep; 0 simply removes ``path``.
    """
    if not path.exists():
        return
    if keep <= 0:
        path.unlink()
        return
    for index in range(keep, 0, -1):
        older = path.with_name(f"{path.name}.{index}")
        newer = path if index == 1 else path.with_name(f"{path.name}.{index - 1}")
        if newer.exists():
            newer.replace(older)  # Replaces (drops) the oldest one on the first round.


def describe_exit(code: int | None) -> str:
    """Say how a child ended, e.g. ``"signal 9, SIGKILL"`` or ``"code 1"``.

    Args:
        code: A ``Popen.returncode``: negative for a signal.

    Returns:
        The description (``"still running"`` for None).
    """
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"signal {-code}, {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


def signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Send ``signum`` to the process group of ``process`` (falls back to the process alone)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)


def kill_quietly(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group of ``process`` and reap it."""
    signal_group(process, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


class ChildProcess:
    """A child in its own process group, with its output appended to a log file.

    A child still running when the object is garbage-collected or Python exits is killed.
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_offset = 0
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes]], ChildProcess] | None = None
        self._started_once = False

    def _log_file(self) -> Path:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        """The child's process id (None before the first start)."""
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        """True while the child runs."""
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path:
        """The file receiving the child's output."""
        return self._log_file()

    def start(self, timeout: float = 30.0) -> ChildProcess:
        """Start the child and wait until it is healthy; see the subclasses."""
        raise NotImplementedError

    @property
    def returncode(self) -> int | None:
        """The child's exit code, or None while it runs or before the first start."""
        return self._process.poll() if self._process is not None else None

    def _open_log(self, what: str) -> IO[bytes]:
        log = self._log_file().open("ab")
        log.write(f"\n=== resilient-agents: starting {what} at {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
        log.flush()
        self._log = log
        self._log_offset = log.tell()
        return log

    def _adopt(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self._finalizer = weakref.finalize(self, kill_quietly, process)

    def _abandon(self, process: subprocess.Popen[bytes]) -> None:
        """Kill a child that failed to start properly and forget it."""
        kill_quietly(process)
        self._detach_finalizer()
        self._close_log()

    def _stop(self, signum: int, timeout: float) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            signal_group(process, signum)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_quietly(process)
        self._detach_finalizer()
        self._close_log()

    def kill(self) -> None:
        """Kill the child at once (SIGKILL), as a crash would, and reap it. Idempotent."""
        process = self._process
        if process is not None:
            kill_quietly(process)
        self._detach_finalizer()
        self._close_log()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """Return the last lines the child wrote since its last start.

        Args:
            lines: How many lines.

        Returns:
            The lines, joined with newlines (empty when there is no log).
        """
        try:
            with self._log_file().open("rb") as handle:
                handle.seek(self._log_offset)
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def _detach_finalizer(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
