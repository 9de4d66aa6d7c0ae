"""``resilient-agents up``: engine, offline model, service, registration, supervision. Private module."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from resilient_agents.config import OFFLINE_URL_ENV, ModelConfig
from resilient_agents.engine import (
    RESTATE_VERSION,
    EngineConfig,
    RestateServer,
    ServiceProcess,
    ensure_restate_server,
    register_deployment,
)
from resilient_agents.models import DemoModel, ModelServer

from ._apps import AppInfo, load_demo_rules, load_demo_templates

STATE_FILE = "up.json"
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class UpOptions:
    """Flags of ``up``."""

    app: AppInfo
    project_dir: Path
    data_dir: Path
    ingress_port: int = 8080
    admin_port: int = 9070
    node_port: int = 5122
    service_port: int = 9080
    offline: bool = False
    model: str | None = None
    api: str | None = None


class Stack:
    """Everything ``up`` starts, in start order; stopped in reverse."""

    def __init__(self, options: UpOptions, say: Callable[[str], None]) -> None:
        self.options = options
        self.say = say
        self.model_server: ModelServer | None = None
        self.engine: RestateServer | None = None
        self.service: ServiceProcess | None = None
        self.restarts = 0

    def start(self) -> None:
        opts = self.options
        binary = self._step(
            "restate-server " + RESTATE_VERSION + " (find or install)",
            lambda: ensure_restate_server(opts.project_dir, progress=self.say),
        )
        service_env = self._model_env()
        self.engine = RestateServer(
            EngineConfig(
                base_dir=opts.data_dir,
                ingress_port=opts.ingress_port,
                admin_port=opts.admin_port,
                node_port=opts.node_port,
            ),
            binary=binary,
        )
        engine = self.engine
        self._step("engine", lambda: engine.start())
        self.service = ServiceProcess(
            opts.app.spec,
            port=opts.service_port,
            env=service_env,
            cwd=opts.project_dir,
            log_path=None,
        )
        service = self.service
        self._step(f"service {opts.app.spec}", lambda: service.start())
        names = self._step("registration", lambda: register_deployment(engine.admin_url, service.url, force=True))
        self.say(f"      services: {', '.join(names)}")
        self._write_state()

    def _model_env(self) -> dict[str, str]:
        opts = self.options
        env: dict[str, str] = {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(opts.project_dir), os.environ.get("PYTHONPATH")]))
        }
        if opts.model:
            env["RESILIENT_AGENTS_MODEL"] = opts.model
        if opts.api:
            env["RESILIENT_AGENTS_API"] = opts.api
        has_key = bool(os.environ.get("OPENAI_API_KEY") or os.environ.get("ANTHROPIC_API_KEY"))
        if opts.offline or not has_key:
            self.model_server = ModelServer(
                DemoModel(rules=load_demo_rules(opts.app), answer_templates=load_demo_templates(opts.app))
            )
            server = self.model_server
            self._step("offline demo model", lambda: server.start())
            env[OFFLINE_URL_ENV] = server.base_url
            env["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
            env.pop("RESILIENT_AGENTS_MODEL", None)
            self._banner(server.base_url, has_key)
        else:
            config = ModelConfig.from_env({**os.environ, **env})
            self.say(f"      model: {config.describe()}")
        return env

    def _banner(self, url: str, has_key: bool) -> None:
        why = "--offline was given" if has_key else "no OPENAI_API_KEY or ANTHROPIC_API_KEY is set"
        line = "=" * 78
        self.say(line)
        self.say(f"  OFFLINE DEMO MODEL ({why})")
        self.say("  Answers come from a small rule-based responder at")
        self.say(f"  {url}, not from an LLM. It picks a tool from your words")
        self.say("  and answers from the tool's output. Set OPENAI_API_KEY for a real model.")
        self.say(line)

    def _step(self, what: str, action: Callable[[], T]) -> T:
        sys.stdout.write(f"  starting {what} ... ")
        sys.stdout.flush()
        started = time.monotonic()
        result = action()
        sys.stdout.write(f"ok ({time.monotonic() - started:.1f}s)\n")
        sys.stdout.flush()
        return result

    def _write_state(self) -> None:
        assert self.engine is not None and self.service is not None
        state = {
            "app": self.options.app.name,
            "ingress_url": self.engine.ingress_url,
            "admin_url": self.engine.admin_url,
            "service_url": self.service.url,
            "pid": os.getpid(),
            "service_pid": self.service.pid,
            "service_restarts": self.restarts,
        }
        (self.options.data_dir / STATE_FILE).write_text(json.dumps(state, indent=2))

    def supervise(self, stop: threading.Event) -> None:
        """Restart the service process whenever it dies, until ``stop`` is set."""
        assert self.service is not None
        while not stop.wait(0.1):
            if self.service.alive:
                continue
            code = self.service.returncode
            self.say(f"! service process exited with code {code}; restarting it (in-flight turns resume) ...")
            started = time.monotonic()
            try:
                self.service.restart()
            except Exception as error:
                self.say(f"! restart failed: {error}")
                continue
            self.restarts += 1
            self._write_state()
            self.say(f"  service restarted in {time.monotonic() - started:.1f}s (pid {self.service.pid})")

    def stop(self) -> None:
        for name, stopper in (
            ("service", self.service.stop if self.service else None),
            ("engine", self.engine.stop if self.engine else None),
            ("offline model", self.model_server.stop if self.model_server else None),
        ):
            if stopper is not None:
                try:
                    stopper()
                except Exception as error:
                    self.say(f"! could not stop the {name} cleanly: {error}")
        state = self.options.data_dir / STATE_FILE
        state.unlink(missing_ok=True)


def run_up(options: UpOptions, say: Callable[[str], None] = print) -> int:
    """Start the stack, print where it is, supervise it until Ctrl-C or SIGTERM, then stop everything."""
    options.data_dir.mkdir(parents=True, exist_ok=True)
    if str(options.project_dir) not in sys.path:  # Apps' demo rules live in the project (examples/...).
        sys.path.insert(0, str(options.project_dir))
    say(f"resilient-agents: starting app {options.app.name!r} (data in {options.data_dir})")
    stack = Stack(options, say)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, Any] = {}
    try:
        stack.start()  # Ctrl-C here raises KeyboardInterrupt; the finally clause stops what was started.
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        _print_ready(stack, say)
        stack.supervise(stop)
        say("\nstopping ...")
        return 0
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        say("stopped.")


def _print_ready(stack: Stack, say: Callable[[str], None]) -> None:
    assert stack.engine is not None and stack.service is not None
    app = stack.options.app
    ingress = stack.engine.ingress_url
    say("")
    say(f"ready: ingress {ingress}   UI {stack.engine.ui_url}")
    say(
        f"  service process pid {stack.service.pid} ({stack.service.url}); "
        "kill -9 it mid-turn and watch the turn resume"
    )
    say("  try:")
    target = f"{app.service}/<session>/{app.handler}" if app.keyed else f"{app.service}/{app.handler}"
    say(f"    curl {ingress}/{target} --json '{json.dumps(app.example)}'")
    session = " --session alice" if app.keyed else ""
    for example in (app.example, *app.examples):
        say(f"    resilient-agents chat --app {app.name}{session} {json.dumps(example)}")
    if app.keyed:
        say(f"    resilient-agents sessions show {app.name} alice")
    say("  Ctrl-C stops everything.")
