"""Run a Restate service app in a child process that can be killed for real (crash tests, local development)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

import resilient_agents
from resilient_agents.engine._child import ChildProcess
from resilient_agents.engine._standby import Spare
from resilient_agents.engine.ports import http_url, pick_free_port, port_is_free, wait_for_port
from resilient_agents.errors import EngineError

__all__ = ["ServiceProcess"]

_SERVE_MODULE = "resilient_agents.engine.serve"


class ServiceProcess(ChildProcess):
    """A child Python process serving a Restate app with ``python -m resilient_agents.engine.serve``.

    The child is the process that serves (hypercorn runs in it, no forked worker), in its own process group, so
    :meth:`kill` is a real crash. The port (picked once when 0) is kept across restarts, so the deployment
    registered with Restate stays valid. Output is appended to ``log_path``. A child still running when the
    object is garbage-collected or Python exits is killed.

    With ``standby=True`` a second, *warm* process is kept ready: it has imported the app (the slow part:
    importing the Agents SDK takes seconds) and waits. When the serving process has died, :meth:`start`
    promotes the spare, which binds the same port and serves within milliseconds, and starts a new spare
    in the background. Both processes read a pipe from this process on their standard input, so they also
    exit when this process dies, even by ``kill -9``. A spare never serves code older than what is on disk:
    when an imported source file outside the installed packages (the app, the project) changed after it
    imported it, a fresh process is started instead (a cold restart). Both write to ``log_path``; the
    ``serve`` lines name their pid. Not thread-safe: call it from one thread.

    Args:
        app_spec: The app as ``module:attribute`` or ``path/to/file.py:attribute``.
        port: Port to serve on; 0 picks a free one.
        host: Address to bind.
        env: Extra environment variables for the child (added to this process's environment).
        cwd: Working directory of the child (``module:attribute`` specs are imported from there).
        log_path: File receiving the child's output; a new temporary file when None.
        standby: Keep a warm spare process for fast restarts (see above).
    """

    def __init__(
        self,
        app_spec: str,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        log_path: Path | None = None,
        standby: bool = False,
    ) -> None:
        if not 0 <= port <= 65535:
            raise EngineError(f"ServiceProcess port={port!r} is not a TCP port: use 1-65535, or 0 for a free port.")
        self.app_spec = app_spec
        """The app being served."""
        self.host = host
        """The address the child binds."""
        self.port = port or pick_free_port(host)
        """The port the child serves on (fixed for the object's lifetime)."""
        self._auto_port = port == 0
        self._env = dict(env or {})
        self._cwd = cwd
        if log_path is None:
            handle, name = tempfile.mkstemp(prefix="resilient-agents-service-", suffix=".log")
            os.close(handle)
            log_path = Path(name)
        self._log_path = log_path
        self.standby = standby
        """Whether a warm spare is kept (see the class docstring)."""
        self._spare: Spare | None = None
        self._serving: Spare | None = None
        super().__init__()

    def _log_file(self) -> Path:
        return self._log_path

    @property
    def url(self) -> str:
        """The deployment URL to register with Restate, e.g. ``http://127.0.0.1:9080``."""
        return http_url(self.host, self.port)

    def command(self) -> list[str]:
        """Return the command line that starts the child.

        Returns:
            The arguments, starting with ``sys.executable``.
        """
        return [
            sys.executable,
            "-m",
            _SERVE_MODULE,
            "--app",
            self.app_spec,
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]

    def start(self, timeout: float = 20.0) -> ServiceProcess:
        """Start the child and wait until its port accepts connections. Does nothing when it already runs.

        Args:
            timeout: Seconds to wait.

        Returns:
            self, for chaining.

        Raises:
            EngineError: The port is taken, or the child exited or did not listen in time (the message ends with
                the last lines of its output).
        """
        if self.alive:
            return self
        self._close_log()
        if not port_is_free(self.host, self.port):
            if self._auto_port and not self._started_once:
                self.port = pick_free_port(self.host)
            else:
                raise EngineError(
                    f"port {self.port} (service {self.app_spec!r}) on {self.host} is already in use by another "
                    "process; stop it or choose another port with ServiceProcess(..., port=...) (0 picks a free one)."
                )
        if self.standby:
            return self._promote(timeout)
        log = self._open_log(self.app_spec)
        try:
            process = subprocess.Popen(
                self.command(),
                cwd=self._cwd,
                env=self._child_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            self._close_log()
            raise EngineError(f"cannot start {sys.executable!r} for service {self.app_spec!r}: {error}") from error
        self._adopt(process)
        if not wait_for_port(self.host, self.port, timeout=timeout, alive=lambda: process.poll() is None):
            exited = process.poll() is not None
            self._abandon(process)
            reason = (
                f"exited with code {process.returncode}"
                if exited
                else f"did not accept connections within {timeout:g} s"
            )
            raise EngineError(
                f"service {self.app_spec!r} {reason}; fix the error below (or raise the timeout).\n"
                f"Last lines of {str(self.log_path)!r}:\n{self.log_tail()}"
            )
        self._started_once = True
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the child gracefully (SIGINT), killing it (SIGKILL) after ``timeout`` seconds. Idempotent.

        A warm spare is killed at once.

        Args:
            timeout: Seconds to wait for a graceful stop.
        """
        if self._spare is not None:
            self._spare.discard()
            self._spare = None
        self._stop(signal.SIGINT, timeout)
        self._retire_serving()

    def kill(self) -> None:
        """Kill the serving child at once (SIGKILL), as a crash would, and reap it. Idempotent.

        A warm spare stays: the next :meth:`start` promotes it.
        """
        super().kill()
        self._retire_serving()

    def restart(self, timeout: float = 20.0) -> ServiceProcess:
        """Stop the child if it runs (gracefully), then start it again on the same port.

        With ``standby=True`` the warm spare takes over.

        Args:
            timeout: Seconds to wait for the new child to accept connections.

        Returns:
            self, for chaining.
        """
        if self.standby:
            self._stop(signal.SIGINT, 10.0)
            self._retire_serving()
        else:
            self.stop()
        return self.start(timeout=timeout)

    @property
    def spare_pid(self) -> int | None:
        """The process id of the warm spare while one runs (None without ``standby=True``)."""
        spare = self._spare
        return spare.pid if spare is not None and spare.alive else None

    def wait_for_spare(self, timeout: float = 30.0) -> bool:
        """Wait until the spare has imported the app, so that a restart now would be fast.

        Args:
            timeout: Seconds to wait at most.

        Returns:
            True when a warm spare waits; False without ``standby=True``, when it exited, or on timeout.
        """
        spare = self._spare
        return spare is not None and spare.wait_warm(timeout)

    def _promote(self, timeout: float) -> ServiceProcess:
        """Make the spare (a new one when there is none) the serving process, then start the next spare."""
        spare, self._spare = self._spare, None
        if spare is not None and not spare.alive:
            spare.discard()
            spare = None
        self._retire_serving()
        if spare is None:
            spare = self._new_spare()
        promoted = spare.promote(timeout)
        if not promoted and spare.stale:
            spare.discard()  # It imported code that has changed since: start one that imports it afresh.
            spare = self._new_spare()
            promoted = spare.promote(timeout)
        if not promoted:
            exited = not spare.alive
            spare.discard()
            self._log_offset = spare.log_offset
            if spare.stale:
                reason = "saw its source files change while it imported them"
            elif exited:
                reason = f"exited with code {spare.process.returncode}"
            else:
                reason = f"did not accept connections within {timeout:g} s"
            raise EngineError(
                f"service {self.app_spec!r} {reason}; fix the error below (or raise the timeout).\n"
                f"Last lines of {str(self.log_path)!r}:\n{self.log_tail()}"
            )
        self._serving = spare
        self._adopt(spare.process)
        self._log_offset = spare.log_offset
        self._started_once = True
        try:
            self._spare = self._new_spare()
        except EngineError:
            self._spare = None  # Serving works; the next start tries again (cold).
        return self

    def _new_spare(self) -> Spare:
        return Spare(self.command(), what=self.app_spec, cwd=self._cwd, env=self._child_env(), log_path=self.log_path)

    def _retire_serving(self) -> None:
        """Forget the serving process once it is gone (closing our end of its pipes)."""
        if self._serving is not None and not self._serving.alive:
            self._serving.discard()
            self._serving = None

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"alive pid={self.pid}" if self.alive else "stopped"
        if self.spare_pid is not None:
            state += f", spare pid={self.spare_pid}"
        return f"ServiceProcess({self.app_spec!r}, {state}, url={self.url!r})"

    def _child_env(self) -> dict[str, str]:
        env = {**os.environ, **self._env, "PYTHONUNBUFFERED": "1"}
        # The child must import this package even when the parent found it through sys.path tweaks.
        package_root = str(Path(resilient_agents.__file__).resolve().parent.parent)
        existing = env.get("PYTHONPATH", "")
        if package_root not in existing.split(os.pathsep):
            env["PYTHONPATH"] = package_root + (os.pathsep + existing if existing else "")
        return env
