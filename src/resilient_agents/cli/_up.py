"""``resilient-agents up``: engine, offline model, service, registration, supervision. Private module.

``up`` watches both the engine and the service process. Either one that exits is started again (the engine
on the same data dir and ports, so Restate resumes in-flight turns from their journals): at once the first
time, then after 0.1 s doubling while it keeps exiting; one that fails to start several times in a row stops
everything with the tail of its log. A warm standby service process (the app imported, waiting to bind) takes
over from a killed one within milliseconds (``--no-standby`` turns it off). Logs live in ``<data-dir>/logs/``,
the previous runs' as ``*.1`` to ``*.3``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from resilient_agents.config import NO_KEY, OFFLINE_URL_ENV, ModelConfig, model_configured
from resilient_agents.engine import (
    RESTATE_VERSION,
    EngineConfig,
    RestateServer,
    ServiceProcess,
    ensure_restate_server,
    list_deployments,
    register_deployment,
)
from resilient_agents.engine._child import rotate_log
from resilient_agents.engine._supervise import GaveUpError, RestartPolicy, Supervisor
from resilient_agents.engine.cluster import RestateCluster
from resilient_agents.errors import ConfigurationError, EngineError
from resilient_agents.models import DemoModel, ModelServer
from resilient_agents.models.reply import Fault, Reply
from resilient_agents.models.request import ParsedRequest, Responder
from resilient_agents.traceview import DEFAULT_PORT, TraceViewer

from ._apps import STATE_FILE, AppConfig, load_demo_rules, load_demo_templates
from ._targets import ServiceInfo, call_lines, choose_target, fetch_services
from ._trace import service_trace_env, trace_lines
from ._up_cluster import cluster_lines, cluster_state, engine_restarting, engine_restarts, start_cluster

LOGS_DIR = "logs"
ENGINE_LOG = "engine.log"
SERVICE_LOG = "service.log"
MODEL_LOG = "model-requests.log"
ENGINE = "restate-server"
SERVICE = "service"
T = TypeVar("T")


class _LoggedResponder:
    """The offline model's responder, writing one line per model request to a file (no request content)."""

    def __init__(self, responder: Responder, path: Path) -> None:
        self._responder = responder
        self._path = path
        self._lock = threading.Lock()
        self._count = 0

    def respond(self, request: ParsedRequest) -> Reply | Fault:
        with self._lock:
            self._count += 1
            line = (
                f"{time.strftime('%Y-%m-%d %H:%M:%S')} request {self._count} ({request.api}, model {request.model!r})"
            )
            with self._path.open("a") as log:
                log.write(line + "\n")
        return self._responder.respond(request)


@dataclasses.dataclass(frozen=True)
class UpOptions:
    """Flags of ``up``."""

    app: AppConfig
    project_dir: Path
    data_dir: Path
    ingress_port: int = 8080
    admin_port: int = 9070
    node_port: int = 5122
    service_port: int = 9080
    offline: bool = False
    model: str | None = None
    api: str | None = None
    trace: bool = False
    """Start the local trace viewer and send the engine's and the service's spans to it."""
    trace_port: int = DEFAULT_PORT
    standby: bool = True
    """Keep a warm standby service process (app imported, waiting) that replaces a killed one at once."""
    cluster: int = 0
    """Run the engine as a local Restate cluster of this many nodes (0: one plain node); see ``_up_cluster``."""
    workers: int = 0
    """Service worker processes sharing the service port (0: one per usable core); see ``ServiceProcess``."""


class Stack:
    """Everything ``up`` starts, in start order; stopped in reverse."""

    def __init__(self, options: UpOptions, say: Callable[[str], None], policy: RestartPolicy | None = None) -> None:
        self.options = options
        self.say = say
        self.model_server: ModelServer | None = None
        self.engine: RestateServer | None = None
        """The engine; with ``--cluster``, the cluster's first node (``cluster`` holds them all)."""
        self.cluster: RestateCluster | None = None
        self.service: ServiceProcess | None = None
        self.trace_viewer: TraceViewer | None = None
        self.services: list[ServiceInfo] = []
        """The app's services and handlers, as the engine lists them after registration."""
        self.supervisor = Supervisor(self._say, policy, changed=self._write_state)
        self.logs = options.data_dir / LOGS_DIR
        self._line_open = False

    def start(self, stop: threading.Event) -> bool:
        """Start everything; False when ``stop`` was set while the service kept failing to start."""
        opts = self.options
        self._rotate_logs()
        binary = self._step(
            "restate-server " + RESTATE_VERSION + " (find or install)",
            lambda: ensure_restate_server(opts.project_dir, progress=self._say),
        )
        service_env = self._model_env()
        from resilient_agents.engine.identity import load_or_create_identity
        from resilient_agents.engine.process import engine_env_for_workers

        workers = opts.workers or len(os.sched_getaffinity(0))

        # Request identity: the engine signs every request to the service, which refuses unsigned ones (401).
        identity = load_or_create_identity(opts.data_dir)
        service_env.update(identity.service_env())
        if opts.trace:
            self.trace_viewer = viewer = TraceViewer(port=opts.trace_port)
            self._step("trace viewer", lambda: viewer.start())
            service_env.update(service_trace_env(viewer, opts.app.name))
        self.engine = RestateServer(
            EngineConfig(
                base_dir=opts.data_dir,
                ingress_port=opts.ingress_port,
                admin_port=opts.admin_port,
                node_port=opts.node_port,
                request_identity_key=identity.private_key_path,
                tracing_endpoint=self.trace_viewer.engine_endpoint if self.trace_viewer else None,
                extra_env=engine_env_for_workers(workers),  # Several connections, so every worker gets some.
            ),
            binary=binary,
            log_path=self.logs / ENGINE_LOG,
        )
        engine = self.engine
        if opts.cluster:
            engine = start_cluster(self, engine.config, binary)
        else:
            self._step("engine", lambda: engine.start())
            self.supervisor.watch(
                ENGINE, engine, how="on the same data dir and ports", after_start=self._ensure_registered
            )
        self.service = ServiceProcess(
            opts.app.spec,
            port=opts.service_port,
            env=service_env,
            cwd=opts.project_dir,
            log_path=self.logs / SERVICE_LOG,
            standby=opts.standby,  # A warm spare (app imported) takes over at once after a crash.
            workers=workers,  # Processes sharing the port: the service uses every core.
        )
        self.supervisor.watch(SERVICE, self.service)
        if not self._step(f"service {opts.app.spec}", lambda: self.supervisor.start(SERVICE, stop.wait)):
            return False
        service = self.service
        names = self._step("registration", lambda: register_deployment(engine.admin_url, service.url, force=True))
        self.services = self._describe_services(engine.admin_url, names)
        self._say(f"      services: {', '.join(names)}")
        self._write_state()
        return True

    def _describe_services(self, admin_url: str, names: list[str]) -> list[ServiceInfo]:
        """The registered services with their kinds and handlers (only names if the admin API fails now)."""
        try:
            return fetch_services(admin_url, only=set(names))
        except EngineError as error:
            self._say(f"! could not list the handlers of {', '.join(names)}: {error}")
            return [ServiceInfo(name, "service") for name in names]

    def _rotate_logs(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for name in (ENGINE_LOG, SERVICE_LOG, MODEL_LOG):
            rotate_log(self.logs / name)
        self._say(f"  logs: {self.logs}{os.sep}{{{ENGINE_LOG},{SERVICE_LOG},{MODEL_LOG}}} (previous runs: *.1 to *.3)")

    def _ensure_registered(self) -> None:
        """After an engine restart: register the service again if the engine lost the deployment."""
        assert self.engine is not None and self.service is not None
        wanted = self.service.url.rstrip("/")
        admin_url = self.cluster.admin_url if self.cluster else self.engine.admin_url  # A live node's.
        try:
            if any(str(d.get("uri", "")).rstrip("/") == wanted for d in list_deployments(admin_url)):
                return
            names = register_deployment(admin_url, self.service.url, force=True)
        except EngineError as error:
            self._say(f"! could not re-register {wanted} after the engine restart: {error}")
            return
        self._say(f"  re-registered {wanted} ({', '.join(names)})")

    def _model_env(self) -> dict[str, str]:
        opts = self.options
        env: dict[str, str] = {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(opts.project_dir), os.environ.get("PYTHONPATH")]))
        }
        if opts.model:
            env["RESILIENT_AGENTS_MODEL"] = opts.model
        if opts.api:
            env["RESILIENT_AGENTS_API"] = opts.api
        configured = model_configured(os.environ)
        if opts.offline or not configured:
            demo = DemoModel(rules=load_demo_rules(opts.app), answer_templates=load_demo_templates(opts.app))
            self.model_server = ModelServer(_LoggedResponder(demo, self.logs / MODEL_LOG))
            server = self.model_server
            self._step("offline demo model", lambda: server.start())
            env[OFFLINE_URL_ENV] = server.base_url
            env["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
            env.pop("RESILIENT_AGENTS_MODEL", None)
            why = (
                "--offline was given"
                if configured
                else "no OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL is set"
            )
            self._banner(
                f"OFFLINE DEMO MODEL ({why})",
                "Answers come from a small rule-based responder at",
                f"{server.base_url}, not from an LLM. It picks a tool from your words",
                "and answers from the tool's output. Set OPENAI_API_KEY (or OPENAI_BASE_URL",
                "for a local server such as Ollama) for a real model.",
            )
        else:
            config = ModelConfig.from_env({**os.environ, **env})
            self._say(f"      model: {config.describe()}")
            if not config.has_key:
                key = "ANTHROPIC_API_KEY" if config.backend == "anthropic" else "OPENAI_API_KEY"
                self._banner(
                    f"MODEL SERVER {config.server} WITHOUT AN API KEY",
                    f"{key} is not set, so no key is sent (only the placeholder {NO_KEY!r}).",
                    "Fine for a local server (Ollama, vLLM); set the key if the server wants one.",
                )
        return env

    def _banner(self, title: str, *lines: str) -> None:
        rule = "=" * 78
        self._say(rule)
        self._say(f"  {title}")
        for line in lines:
            self._say(f"  {line}")
        self._say(rule)

    def _say(self, text: str) -> None:
        if self._line_open:  # A message while a "starting ... " line waits for its "ok".
            sys.stdout.write("\n")
            sys.stdout.flush()
            self._line_open = False
        self.say(text)

    def _step(self, what: str, action: Callable[[], T]) -> T:
        sys.stdout.write(f"  starting {what} ... ")
        sys.stdout.flush()
        self._line_open = True
        started = time.monotonic()
        result = action()
        done = f"ok ({time.monotonic() - started:.1f}s)"
        if self._line_open:
            sys.stdout.write(done + "\n")
            sys.stdout.flush()
            self._line_open = False
        else:
            self.say(f"  {what}: {done}")
        return result

    def _write_state(self) -> None:
        if self.engine is None or self.service is None:
            return
        state = {
            "app": self.options.app.name,
            "app_spec": self.options.app.spec,
            "project_dir": str(self.options.project_dir),
            "chat": self.options.app.chat,
            "services": [service.to_json() for service in self.services],
            "ingress_url": self.engine.ingress_url,
            "admin_url": self.engine.admin_url,
            "service_url": self.service.url,
            "pid": os.getpid(),
            "engine_pid": self.engine.pid,
            "engine_state": "restarting" if engine_restarting(self) else "running",
            "engine_restarts": engine_restarts(self),
            "service_pid": self.service.pid,
            "service_pids": self.service.worker_pids,  # Every worker serving the port (``--workers``).
            "service_spare_pid": self.service.spare_pid,
            "service_state": "restarting" if self.supervisor.restarting(SERVICE) else "running",
            "service_restarts": self.supervisor.restarts(SERVICE),
            "logs": str(self.logs),
            "trace_url": self.trace_viewer.url if self.trace_viewer else None,
            **cluster_state(self),
        }
        # Written whole and renamed, so `status` never reads half a file.
        path = self.options.data_dir / STATE_FILE
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(state, indent=2))
        partial.replace(path)

    def supervise(self, stop: threading.Event) -> None:
        """Restart the engine or the service whenever it dies, until ``stop`` is set.

        Raises:
            GaveUpError: One of them failed to start too many times in a row.
        """
        while not stop.wait(0.02):  # A killed service is noticed (and its spare promoted) within 20 ms.
            self.supervisor.poll()

    def stop(self) -> None:
        for name, stopper in (
            ("service", self.service.stop if self.service else None),
            ("cluster", self.cluster.stop if self.cluster else None),
            ("engine", self.engine.stop if self.engine else None),
            ("offline model", self.model_server.stop if self.model_server else None),
            ("trace viewer", self.trace_viewer.stop if self.trace_viewer else None),
        ):
            if stopper is not None:
                try:
                    stopper()
                except Exception as error:
                    self._say(f"! could not stop the {name} cleanly: {error}")
        state = self.options.data_dir / STATE_FILE
        state.unlink(missing_ok=True)


def run_up(options: UpOptions, say: Callable[[str], None] = print, policy: RestartPolicy | None = None) -> int:
    """Start the stack, print where it is, supervise it until Ctrl-C or SIGTERM, then stop everything.

    Returns:
        0 after Ctrl-C or SIGTERM, 1 when the engine or the service kept failing to start.
    """
    options.data_dir.mkdir(parents=True, exist_ok=True)
    if str(options.project_dir) not in sys.path:  # Apps' demo rules live in the project.
        sys.path.insert(0, str(options.project_dir))
    say(f"resilient-agents: starting app {options.app.name!r} (data in {options.data_dir})")
    stack = Stack(options, say, policy)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, Any] = {}
    try:
        # Ctrl-C while the engine starts raises KeyboardInterrupt; the finally clause stops what was started.
        if stack.start(stop):
            previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
            _print_ready(stack, say)
            stack.supervise(stop)
        say("\nstopping ...")
        return 0
    except GaveUpError as error:
        say(f"! {error}")
        say("! stopping everything.")
        return 1
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        say("stopped.")


def _print_ready(stack: Stack, say: Callable[[str], None]) -> None:
    assert stack.engine is not None and stack.service is not None
    ingress = stack.engine.ingress_url
    say("")
    say(f"ready: ingress {ingress}   UI {stack.engine.ui_url}")
    say(
        f"  service process pid {', '.join(map(str, stack.service.worker_pids))} ({stack.service.url}), "
        f"restate-server pid {stack.engine.pid}; "
        "kill -9 either mid-turn and watch the turn resume"
    )
    say(f"  logs in {stack.logs}")
    for line in cluster_lines(stack):
        say(line)
    for line in trace_lines(stack.trace_viewer) if stack.trace_viewer else []:
        say(line)
    say("  handlers (curl the ingress, or `resilient-agents chat`):")
    for line in call_lines(stack.services, ingress):
        say(f"    {line}")
    for line in _try_lines(stack.options.app, stack.services):
        say(line)
    say("  Ctrl-C stops everything.")


def _try_lines(app: AppConfig, services: list[ServiceInfo]) -> list[str]:
    """``chat`` lines with the app's example messages, for the handler ``chat`` picks by itself (if it can)."""
    try:
        target = choose_target(services, app.chat)
    except (ConfigurationError, EngineError) as error:
        return [f"  chat needs --to SERVICE/HANDLER for this app ({error})"]
    if not target.takes_input:
        return []
    name = app.name if app.configured or ":" not in app.name else shlex.quote(app.name)
    session = " --session alice" if target.keyed else ""
    lines = [f"  try (chat talks to {target.service}/{target.handler}):"]
    for example in app.examples or ("Hello!",):
        lines.append(f"    resilient-agents chat --app {name}{session} {shlex.quote(example)}")
    service = next((s for s in services if s.name == target.service), None)
    if target.keyed and service is not None and service.handler("history") is not None:
        lines.append(f"    resilient-agents sessions show {name} alice")
    return lines
