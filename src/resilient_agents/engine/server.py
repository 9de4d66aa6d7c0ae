"""Run a single-node ``restate-server`` as a child process, bound to loopback, with settings for development."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from resilient_agents.engine import admin
from resilient_agents.engine._child import ChildProcess
from resilient_agents.engine.binary import _real_binary, ensure_restate_server
from resilient_agents.engine.identity import ENGINE_PRIVATE_KEY_ENV
from resilient_agents.engine.ports import format_host_port, http_url, pick_free_port, port_is_free
from resilient_agents.errors import EngineError

__all__ = ["LOG_FILE_NAME", "EngineConfig", "RestateServer", "engine_environment"]

LOG_FILE_NAME = "restate-server.log"
"""Name of the server's log file inside :attr:`EngineConfig.base_dir` (appended to at every start)."""

_LISTEN_MODES = ("all", "tcp")
# Restate listens on <base-dir>/<node-name>/{ingress,admin,fabric}.sock besides TCP; a Unix socket path must be
# shorter than sun_path (108 bytes on Linux, 104 on macOS) or the server refuses to start.
_SOCKET_NAMES = ("ingress.sock", "admin.sock", "fabric.sock")
_MAX_SOCKET_PATH = 100


@dataclass
class EngineConfig:
    """How to run the local Restate server. Turned into ``RESTATE_*`` environment variables by :meth:`environment`."""

    base_dir: Path
    """Directory for the server's data (in ``<base_dir>/<node_name>/``) and its log, e.g. a project's ``.restate/``."""

    node_name: str = "resilient-agents"
    """Node name. Restate keeps data per node name (default: the host name), so we always set a fixed one."""

    host: str = "127.0.0.1"
    """Address every listener binds to. Keep loopback unless other machines must reach the server."""

    ingress_port: int = 8080
    """Port of the HTTP ingress (invoking services). 0 picks a free port."""

    admin_port: int = 9070
    """Port of the admin API and web UI. 0 picks a free port."""

    node_port: int = 5122
    """Port of the node-to-node message fabric (also serves ``/metrics``). 0 picks a free port."""

    lean: bool = True
    """Small footprint: 1 partition and 32 MB of RocksDB memory (~140 MB RSS instead of ~280 MB).

    The partition count is fixed when a data directory is first created; changing this later has no effect on it."""

    always_replay: bool = False
    """Hunt non-determinism: an inactivity timeout of 0 s makes every suspension point replay the journal."""

    fail_fast: bool = False
    """For tests: a failing invocation is attempted once and then killed, instead of retried for ~1 hour."""

    listen_mode: str | None = None
    """``"all"`` (TCP and Unix sockets under the data dir) or ``"tcp"``; None = "all" unless the socket paths would be
    too long for the OS, then "tcp"."""

    request_identity_key: Path | None = None
    """PEM file of an ed25519 private key: the engine signs every request to a service with it, and services
    started with the matching public key refuse unsigned requests (see :mod:`resilient_agents.engine.identity`)."""

    tracing_endpoint: str | None = None
    """Where the engine exports its own OpenTelemetry spans (ingress, invocation, attempts), e.g.
    ``http+json+otlp://127.0.0.1:4318`` (OTLP/HTTP JSON), ``http+otlp://...`` (OTLP/HTTP protobuf) or
    ``http://host:4317`` (OTLP gRPC). Services join these traces: the engine passes a ``traceparent`` header
    to every attempt (see :mod:`resilient_agents._tracing`). ``None``: no export."""

    extra_env: dict[str, str] = field(default_factory=dict)
    """More environment variables for the server (``RESTATE_<KEY>`` with ``__`` for nesting); they win over ours.

    The server does not inherit secrets: of this process's environment it gets only what
    :func:`engine_environment` keeps (no ``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ...). Pass here what it needs."""

    def __post_init__(self) -> None:
        self.base_dir = Path(self.base_dir)
        if self.request_identity_key is not None:
            self.request_identity_key = Path(self.request_identity_key)
        if not self.node_name.strip():
            raise EngineError("EngineConfig.node_name is empty: give the node a fixed name, e.g. 'resilient-agents'.")
        for name in ("ingress_port", "admin_port", "node_port"):
            port = getattr(self, name)
            if not isinstance(port, int) or not 0 <= port <= 65535:
                raise EngineError(f"EngineConfig.{name}={port!r} is not a TCP port: use 1-65535, or 0 for a free port.")
        nonzero = [port for port in (self.ingress_port, self.admin_port, self.node_port) if port]
        if len(nonzero) != len(set(nonzero)):
            raise EngineError(
                f"EngineConfig ports must differ: ingress_port={self.ingress_port!r}, admin_port={self.admin_port!r}, "
                f"node_port={self.node_port!r}; change one of them (or use 0 for free ports)."
            )
        if self.listen_mode is not None and self.listen_mode not in _LISTEN_MODES:
            raise EngineError(
                f"EngineConfig.listen_mode={self.listen_mode!r} is not supported: use 'all', 'tcp' or None."
            )

    @property
    def data_dir(self) -> Path:
        """The node's data directory, ``<base_dir>/<node_name>``."""
        return self.base_dir / self.node_name

    @property
    def log_path(self) -> Path:
        """The server's log file, ``<base_dir>/restate-server.log``."""
        return self.base_dir / LOG_FILE_NAME

    def with_free_ports(self) -> EngineConfig:
        """Return a copy in which every port that is 0 is replaced by a currently free port.

        Returns:
            A new config; this one is unchanged.
        """
        taken = {port for port in (self.ingress_port, self.admin_port, self.node_port) if port}

        def free(port: int) -> int:
            if port:
                return port
            picked = pick_free_port(self.host, avoid=taken)
            taken.add(picked)
            return picked

        return dataclasses.replace(
            self,
            ingress_port=free(self.ingress_port),
            admin_port=free(self.admin_port),
            node_port=free(self.node_port),
            extra_env=dict(self.extra_env),
        )

    def effective_listen_mode(self) -> str:
        """Return the listen mode that :meth:`environment` sets (see :attr:`listen_mode`).

        Returns:
            ``"all"`` or ``"tcp"``.
        """
        if self.listen_mode is not None:
            return self.listen_mode
        longest = max(len(os.fsencode(self.data_dir.absolute() / name)) for name in _SOCKET_NAMES)
        return "all" if longest < _MAX_SOCKET_PATH else "tcp"

    def environment(self) -> dict[str, str]:
        """Return the ``RESTATE_*`` environment variables for this configuration (``extra_env`` included).

        Returns:
            Variable names to values.

        Raises:
            EngineError: A port is still 0; call :meth:`with_free_ports` first.
        """
        for name in ("ingress_port", "admin_port", "node_port"):
            if getattr(self, name) == 0:
                raise EngineError(f"EngineConfig.{name} is 0: call with_free_ports() before environment().")
        host = self.host
        env = {
            "RESTATE_BASE_DIR": str(self.base_dir.absolute()),
            "RESTATE_NODE_NAME": self.node_name,
            "RESTATE_DISABLE_TELEMETRY": "true",
            "RESTATE_LOG_DISABLE_ANSI_CODES": "true",
            "RESTATE_LISTEN_MODE": self.effective_listen_mode(),
            # Every listener on `host`: bind-ip is the default for all, the per-listener addresses make it explicit.
            "RESTATE_BIND_IP": host,
            "RESTATE_BIND_ADDRESS": format_host_port(host, self.node_port),
            "RESTATE_ADVERTISED_ADDRESS": http_url(_connect_host(host), self.node_port),
            "RESTATE_INGRESS__BIND_ADDRESS": format_host_port(host, self.ingress_port),
            "RESTATE_INGRESS__ADVERTISED_INGRESS_ENDPOINT": http_url(_connect_host(host), self.ingress_port),
            "RESTATE_ADMIN__BIND_ADDRESS": format_host_port(host, self.admin_port),
            "RESTATE_ADMIN__ADVERTISED_ADMIN_ENDPOINT": http_url(_connect_host(host), self.admin_port),
        }
        if self.lean:
            env["RESTATE_DEFAULT_NUM_PARTITIONS"] = "1"
            env["RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE"] = "32 MB"
        if self.always_replay:
            env["RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT"] = "0s"
        if self.fail_fast:
            env["RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS"] = "1"
            env["RESTATE_DEFAULT_RETRY_POLICY__ON_MAX_ATTEMPTS"] = "kill"
        if self.tracing_endpoint:
            env["RESTATE_TRACING_ENDPOINT"] = self.tracing_endpoint
        if self.request_identity_key is not None:
            env[ENGINE_PRIVATE_KEY_ENV] = str(Path(self.request_identity_key).absolute())
        env.update(self.extra_env)
        return env


_ENV_KEEP = frozenset({"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM"})
_ENV_KEEP_PREFIXES = ("RESTATE_", "LC_", "RUST_", "SSL_CERT_", "OTEL_")
# Never handed on, even under a kept prefix: the engine needs no credential of ours.
_SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")


def engine_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The part of ``environ`` that restate-server inherits: an allow-list, with every secret-looking name dropped.

    Kept: ``PATH``, ``HOME``, user and locale (``LANG``, ``LC_*``, ``TZ``), ``TMPDIR``, ``TERM``, and the
    ``RESTATE_*``, ``RUST_*``, ``SSL_CERT_*`` and ``OTEL_*`` settings, except names containing ``KEY``,
    ``TOKEN``, ``SECRET``, ``PASSWORD``, ``CREDENTIAL`` or ``AUTH`` (unless they end in ``_FILE``, ``_PATH``
    or ``_DIR``: those name files, not secrets). So ``OPENAI_API_KEY``,
    ``ANTHROPIC_API_KEY`` and other credentials of the services never reach the engine, which does not call
    models. Give the engine more with :attr:`EngineConfig.extra_env`.

    Args:
        environ: Usually ``os.environ``.

    Returns:
        The variables to keep.
    """
    kept: dict[str, str] = {}
    for name, value in environ.items():
        upper = name.upper()
        if upper not in _ENV_KEEP and not upper.startswith(_ENV_KEEP_PREFIXES):
            continue
        is_path = upper.endswith(("_FILE", "_PATH", "_DIR"))  # e.g. the request identity key's PEM file
        if not is_path and any(marker in upper for marker in _SECRET_MARKERS):
            continue
        kept[name] = value
    return kept


def _connect_host(host: str) -> str:
    """The address clients use to reach a listener bound on ``host`` (wildcards mean loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


class RestateServer(ChildProcess):
    """A ``restate-server`` child process for one :class:`EngineConfig`.

    The real binary (never the npm Node wrapper, so :attr:`pid` is the process that serves) runs in its own process
    group with its output appended to :attr:`log_path` (default ``<base_dir>/restate-server.log``).
    Ports that are 0 in the config are picked when the object is created and kept across restarts, so URLs and
    registered deployments stay valid. Usable as a context manager (starts on enter, stops on exit). A server
    still running when the object is garbage-collected or Python exits is killed.

    Args:
        config: Where to keep data and how to run.
        binary: The restate-server executable; found (or installed with npm) by :func:`ensure_restate_server`
            when None.
        log_path: The file receiving the server's output; ``<base_dir>/restate-server.log`` when None.
    """

    def __init__(self, config: EngineConfig, binary: Path | None = None, *, log_path: Path | None = None) -> None:
        self._requested = config
        self._config = config.with_free_ports()
        self._binary = binary
        self._log_path = Path(log_path) if log_path is not None else None
        super().__init__()
        self.startup_seconds: float | None = None
        """Seconds the last successful :meth:`start` took until the server was healthy."""

    def _log_file(self) -> Path:
        return self._log_path or self._config.log_path

    @property
    def config(self) -> EngineConfig:
        """The configuration in use, with the ports actually used."""
        return self._config

    @property
    def binary(self) -> Path | None:
        """The executable that runs (None until :meth:`start` found it)."""
        return self._binary

    @property
    def running(self) -> bool:
        """True while the server process is alive (the same as :attr:`alive`)."""
        return self.alive

    @property
    def ingress_url(self) -> str:
        """Base URL of the ingress, e.g. ``http://127.0.0.1:8080``."""
        return http_url(_connect_host(self._config.host), self._config.ingress_port)

    @property
    def admin_url(self) -> str:
        """Base URL of the admin API, e.g. ``http://127.0.0.1:9070``."""
        return http_url(_connect_host(self._config.host), self._config.admin_port)

    @property
    def ui_url(self) -> str:
        """URL of the web UI (served by the admin API, works offline)."""
        return self.admin_url + "/ui/"

    def start(self, timeout: float = 30.0) -> RestateServer:
        """Start the server and wait until the admin API and the ingress answer their health checks.

        Does nothing when it is already running. Can be called again after :meth:`stop` or :meth:`kill`
        (same data, same ports), e.g. to test recovery.

        Args:
            timeout: Seconds to wait for health.

        Returns:
            self, for chaining.

        Raises:
            EngineError: The binary is missing, a port is taken, or the server exited or stayed unhealthy (the
                message ends with the last lines of its log).
        """
        if self.running:
            return self
        self._close_log()
        binary = self._resolve_binary()
        self._check_ports()
        config = self._config
        config.base_dir.mkdir(parents=True, exist_ok=True)
        env = {**engine_environment(os.environ), **config.environment()}
        log = self._open_log(str(binary))
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                [str(binary), "--no-logo"],
                cwd=config.base_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            self._close_log()
            raise EngineError(
                f"cannot run restate-server {str(binary)!r}: {error}; check the file and its permissions."
            ) from error
        self._adopt(process)
        try:
            admin.wait_healthy(self.admin_url, self.ingress_url, timeout=timeout, alive=lambda: process.poll() is None)
        except EngineError as error:
            self._abandon(process)
            code = process.returncode
            raise EngineError(
                f"{error} [exit code {code}]\nLast lines of {str(self.log_path)!r}:\n{self.log_tail()}"
            ) from None
        self.startup_seconds = time.monotonic() - started
        self._started_once = True
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server gracefully (SIGTERM), killing it (SIGKILL) after ``timeout`` seconds. Idempotent.

        Args:
            timeout: Seconds to wait for a graceful shutdown.
        """
        self._stop(signal.SIGTERM, timeout)

    def __enter__(self) -> RestateServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running pid={self.pid}" if self.running else "stopped"
        return f"RestateServer({state}, ingress={self.ingress_url!r}, admin={self.admin_url!r})"

    def _resolve_binary(self) -> Path:
        if self._binary is None:
            self._binary = ensure_restate_server(self._config.base_dir)
        real = _real_binary(Path(self._binary), "restate-server", "restate-server")
        if real is None:
            raise EngineError(
                f"{str(self._binary)!r} is not an executable restate-server binary: pass the real binary (not the "
                "npm wrapper of another platform) or leave binary=None to find or install it."
            )
        self._binary = real
        return real

    def _check_ports(self) -> None:
        config = self._config
        listeners = (("ingress", "ingress_port"), ("admin", "admin_port"), ("node", "node_port"))
        for label, name in listeners:
            port: int = getattr(config, name)
            if port_is_free(config.host, port):
                continue
            if getattr(self._requested, name) == 0 and not self._started_once:
                # We picked it a moment ago and someone else took it: pick again.
                taken = {config.ingress_port, config.admin_port, config.node_port}
                config = dataclasses.replace(config, extra_env=dict(config.extra_env))
                setattr(config, name, pick_free_port(config.host, avoid=taken))
                continue
            raise EngineError(
                f"port {port} ({label}) on {config.host} is already in use by another process; stop it or choose "
                f"another port with EngineConfig({name}=...) (0 picks a free port)."
            )
        self._config = config
