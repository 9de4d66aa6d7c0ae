"""Run a Restate service app in a child process that can be killed for real (crash tests, local development)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import resilient_agents
from resilient_agents.engine._child import ChildProcess, kill_quietly, signal_group
from resilient_agents.engine._standby import Spare
from resilient_agents.engine.ports import http_url, pick_free_port, port_is_free, wait_for_port
from resilient_agents.errors import EngineError

__all__ = ["WORKER_STREAMS_PER_CONNECTION", "ServiceProcess", "engine_env_for_workers"]

_SERVE_MODULE = "resilient_agents.engine.serve"

WORKER_STREAMS_PER_CONNECTION = 4
"""Invocations restate-server multiplexes on one HTTP/2 connection to a deployment served by several workers.

The engine opens a new connection to a deployment only when its open ones each carry this many invocations
(``worker.invoker.http2-streams-per-connection-limit``, 128 by default), and the kernel spreads *connections*,
not streams, over the workers sharing the port: with the default, 250 concurrent invocations all went to one
worker; with 4 they spread over both (measured on restate-server 1.7.12)."""


def engine_env_for_workers(workers: int) -> dict[str, str]:
    """The restate-server settings that let a deployment with ``workers`` processes use all of them.

    Args:
        workers: The service's worker processes (``ServiceProcess(workers=...)``).

    Returns:
        ``RESTATE_*`` environment variables for ``EngineConfig.extra_env``; empty for one worker.
    """
    if workers <= 1:
        return {}
    return {"RESTATE_WORKER__INVOKER__HTTP2_STREAMS_PER_CONNECTION_LIMIT": str(WORKER_STREAMS_PER_CONNECTION)}


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
        workers: How many serving processes share the port (``SO_REUSEPORT``; the kernel spreads the engine's
            connections over them), so that one deployment uses several cores. With more than one,
            :attr:`alive` is False as soon as one worker has died and :meth:`start` replaces the dead ones
            (with ``standby=True`` the one warm spare takes the first dead worker's place, then a new spare
            is started); :meth:`kill` kills every worker, :meth:`kill_worker` one of them. The engine must
            open several connections to the deployment for this to help: start it with
            :func:`engine_env_for_workers` in ``EngineConfig.extra_env``.
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
        workers: int = 1,
    ) -> None:
        if workers < 1:
            raise EngineError(f"ServiceProcess workers={workers!r}: use 1 or more serving processes.")
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
        self.workers = workers
        """How many processes serve the port together (see the class docstring)."""
        self._slots: list[Spare | None] = [None] * workers if workers > 1 else []
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
            *(["--reuse-port"] if self.workers > 1 else []),
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
        if self._slots:
            return self._start_workers(timeout)
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
        if self._slots:
            self._stop_workers(timeout)
            return
        self._stop(signal.SIGINT, timeout)
        self._retire_serving()

    def kill(self) -> None:
        """Kill the serving child at once (SIGKILL), as a crash would, and reap it. Idempotent.

        A warm spare stays: the next :meth:`start` promotes it. With several workers, every worker is killed.
        """
        if self._slots:
            for index in range(len(self._slots)):
                self.kill_worker(index)
            return
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
        if self._slots:
            self._stop_workers(10.0)
        elif self.standby:
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

    @property
    def alive(self) -> bool:
        """True while the service runs; with several workers, while every one of them runs."""
        if self._slots:
            return all(slot is not None and slot.alive for slot in self._slots)
        return super().alive

    @property
    def pid(self) -> int | None:
        """The serving process's id (with several workers: the first live worker's; None before the start)."""
        if self._slots:
            return next((slot.pid for slot in self._slots if slot is not None and slot.alive), None)
        return super().pid

    @property
    def returncode(self) -> int | None:
        """The exit code of the serving process (with several workers: of the first dead one); None while up."""
        if self._slots:
            dead = (slot for slot in self._slots if slot is not None and not slot.alive)
            return next((slot.process.returncode for slot in dead), None)
        return super().returncode

    @property
    def worker_pids(self) -> list[int]:
        """The process ids of the live serving processes (one unless ``workers`` is more than 1)."""
        if self._slots:
            return [slot.pid for slot in self._slots if slot is not None and slot.alive]
        pid = super().pid
        return [pid] if pid is not None and super().alive else []

    def kill_worker(self, index: int) -> None:
        """Kill one serving process at once (SIGKILL), as a crash would, and reap it. Idempotent.

        The other workers keep serving; :attr:`alive` turns False and the next :meth:`start` replaces it.

        Args:
            index: Which worker, from 0 to ``workers - 1`` (the order of :attr:`worker_pids` while all run).
        """
        if not self._slots:
            if index != 0:
                raise EngineError(f"kill_worker({index}): this service has one worker, index 0.")
            self.kill()
            return
        slot = self._slots[index]
        if slot is not None:
            kill_quietly(slot.process)  # Kept in its slot (dead) so that returncode tells how it ended.

    def _start_workers(self, timeout: float) -> ServiceProcess:
        """Fill every empty or dead worker slot: the warm spare first, new processes (started together) for the rest."""
        for index, slot in enumerate(self._slots):
            if slot is not None and not slot.alive:
                slot.discard()
                self._slots[index] = None
        empty = [index for index, slot in enumerate(self._slots) if slot is None]
        if len(empty) == len(self._slots) and not port_is_free(self.host, self.port):
            if self._auto_port and not self._started_once and self._spare is None:
                self.port = pick_free_port(self.host)
            else:
                raise EngineError(
                    f"port {self.port} (service {self.app_spec!r}) on {self.host} is already in use by another "
                    "process; stop it or choose another port with ServiceProcess(..., port=...) (0 picks a free one)."
                )
        spare, self._spare = self._spare, None
        candidates = [spare] if spare is not None and spare.alive else []
        if spare is not None and not candidates:
            spare.discard()
        candidates += [self._new_spare() for _ in range(len(empty) - len(candidates))]
        try:
            for index, candidate in zip(empty, candidates, strict=True):
                self._slots[index] = self._serve_with(candidate, timeout)
        except EngineError:
            for candidate in candidates:
                if candidate not in self._slots:
                    candidate.discard()
            raise
        self._started_once = True
        if self.standby:
            try:
                self._spare = self._new_spare()
            except EngineError:
                self._spare = None  # Serving works; the next start tries again (cold).
        return self

    def _stop_workers(self, timeout: float) -> None:
        """Stop every worker gracefully (SIGINT), killing those still running after ``timeout`` seconds."""
        running = [slot for slot in self._slots if slot is not None and slot.alive]
        for slot in running:
            signal_group(slot.process, signal.SIGINT)
        deadline = time.monotonic() + timeout
        for slot in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                slot.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        for index, stopped in enumerate(self._slots):
            if stopped is not None:
                stopped.discard()
            self._slots[index] = None

    def _serve_with(self, spare: Spare, timeout: float) -> Spare:
        """Promote ``spare`` (a fresh process instead when it imported stale code); return the serving one.

        Raises:
            EngineError: It exited or did not listen in time (the message ends with its last log lines).
        """
        promoted = spare.promote(timeout)
        if not promoted and spare.stale:
            spare.discard()  # It imported code that has changed since: start one that imports it afresh.
            spare = self._new_spare()
            promoted = spare.promote(timeout)
        self._log_offset = spare.log_offset
        if promoted:
            return spare
        exited = not spare.alive
        spare.discard()
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

    def _promote(self, timeout: float) -> ServiceProcess:
        """Make the spare (a new one when there is none) the serving process, then start the next spare."""
        spare, self._spare = self._spare, None
        if spare is not None and not spare.alive:
            spare.discard()
            spare = None
        self._retire_serving()
        if spare is None:
            spare = self._new_spare()
        spare = self._serve_with(spare, timeout)
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
