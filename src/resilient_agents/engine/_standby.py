"""A warm spare service process: the app imported, waiting for ``go`` (see ``ServiceProcess(standby=True)``).

Private module. The spare runs ``python -m resilient_agents.engine.serve ... --standby --status-fd N``: its
standard input is a pipe from us (``go`` promotes it; end of file, e.g. because we died, ends it), and it
reports ``standby`` (imported) and ``ready <url>`` (listening) on a second pipe.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from resilient_agents.engine._child import kill_quietly
from resilient_agents.errors import EngineError

__all__ = ["GO", "Spare"]

GO = b"go"
"""The line (on its standard input) that tells a ``--standby`` process to bind its port and serve."""


def _discard(process: subprocess.Popen[bytes], status_fd: int) -> None:
    """Kill a spare (its whole process group) and close our ends of its pipes."""
    kill_quietly(process)
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    with contextlib.suppress(OSError):
        os.close(status_fd)


class Spare:
    """One ``serve --standby`` child, in its own process group, with its output appended to ``log_path``.

    It keeps running after :meth:`promote` (it is then the serving process); our end of its standard input must
    stay open as long as it should serve, so the caller keeps this object until the process is gone. It is
    killed when this object is discarded, garbage-collected, or when Python exits.

    Args:
        command: The ``serve`` command line without ``--standby`` and ``--status-fd``.
        what: How the log header names it.
        cwd: Working directory of the child.
        env: The child's whole environment.
        log_path: File receiving its output.

    Raises:
        EngineError: The process cannot be started.
    """

    def __init__(self, command: list[str], *, what: str, cwd: Path | None, env: dict[str, str], log_path: Path) -> None:
        read_fd, write_fd = os.pipe()
        try:
            with log_path.open("ab") as log:
                log.write(
                    f"\n=== resilient-agents: starting a standby process for {what} at "
                    f"{time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode()
                )
                log.flush()
                self.log_offset = log.tell()
                """Where this process's output starts in the log."""
                self.process = subprocess.Popen(
                    [*command, "--standby", "--status-fd", str(write_fd)],
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    pass_fds=(write_fd,),
                )
                """The child process."""
        except OSError as error:
            os.close(read_fd)
            raise EngineError(f"cannot start a standby process for {what!r}: {error}") from error
        finally:
            os.close(write_fd)  # The child holds the only write end: end of file on ours means it is gone.
        os.set_blocking(read_fd, False)
        self._status_fd = read_fd
        self._pending = b""
        self._eof = False
        self.warm = False
        """True once the child has imported the app and waits for ``go`` (or serves)."""
        self.url: str | None = None
        """The URL it serves, once promoted and listening."""
        self.stale = False
        """True when it refused to serve because the app's source changed since it imported it (it exits)."""
        self._finalizer = weakref.finalize(self, _discard, self.process, read_fd)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    @property
    def alive(self) -> bool:
        """True while the child runs."""
        return self.process.poll() is None

    def wait_warm(self, timeout: float) -> bool:
        """Wait until the child has imported the app.

        Args:
            timeout: Seconds to wait at most.

        Returns:
            True when it is warm; False when it exited or the time ran out.
        """
        return self._wait(lambda: self.warm, timeout)

    def promote(self, timeout: float) -> bool:
        """Tell the child to serve and wait until its port listens (at once when warm, else after its imports).

        Args:
            timeout: Seconds to wait at most.

        Returns:
            True once it serves; False when it exited (see the log and :attr:`stale`) or did not listen in time.
        """
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(GO + b"\n")
            stdin.flush()
        except OSError:  # BrokenPipeError: it has exited.
            return False
        return self._wait(lambda: self.url is not None, timeout)

    def discard(self) -> None:
        """Kill the child (if it still runs) and close the pipes. Idempotent."""
        self._finalizer()

    def _wait(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        self._read_status(0.0)
        while not done():
            remaining = deadline - time.monotonic()
            if self._eof:
                # Its pipe closed because it is exiting: let it finish, so callers see its exit code.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=5)
                return False
            if remaining <= 0:
                return False
            self._read_status(remaining)
        return True

    def _read_status(self, timeout: float) -> None:
        """Read what the child reported, waiting up to ``timeout`` seconds for something to arrive."""
        if self._eof or not self._finalizer.alive:
            return
        readable, _, _ = select.select([self._status_fd], [], [], timeout)
        if not readable:
            return
        try:
            chunk = os.read(self._status_fd, 4096)
        except BlockingIOError:
            return
        if not chunk:
            self._eof = True
            return
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            word, _, rest = line.decode("utf-8", "replace").partition(" ")
            if word == "standby":
                self.warm = True
            elif word == "stale":
                self.stale = True
            elif word == "ready":
                self.warm = True
                self.url = rest.strip()
