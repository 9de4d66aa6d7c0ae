"""``AgentTestEnv``: a real restate-server, a service process you can ``kill -9``, and a scripted model.

Private module; import from :mod:`resilient_agents.testing`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from resilient_agents.engine import EngineConfig, RestateServer, ServiceProcess, query, register_deployment
from resilient_agents.errors import ResilientAgentsError
from resilient_agents.models import ModelServer, Responder, ScriptedModel

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class JournalEntry:
    """One entry of an invocation's journal, as the engine's ``sys_journal`` table shows it."""

    index: int
    """Position in the journal (0 is the input)."""
    entry_type: str
    """Kind of entry, e.g. ``Command: Run`` or ``Notification: Run``."""
    name: str
    """The step name given by the code (``"llm: WeatherAgent #1"``), or empty."""
    raw: dict[str, Any]
    """The whole row."""


@dataclasses.dataclass(frozen=True)
class RepeatedStepName:
    """A step name that one invocation's journal uses more than once."""

    invocation_id: str
    """The invocation whose journal repeats the name."""
    target: str
    """The invocation's target, e.g. ``Fanout/research``."""
    name: str
    """The repeated step name."""
    count: int
    """How many ``Command`` entries of that journal carry it."""


class RepeatedStepNamesError(ResilientAgentsError, AssertionError):
    """:meth:`AgentTestEnv.stop` found a journal that names two steps alike."""


class AgentTestEnv:
    """A test environment on the real engine: ``restate-server``, one served app, and a model server.

    The app runs in a separate process (``python -m resilient_agents.engine.serve``) so a test can kill it
    with SIGKILL and start it again; the engine then retries the interrupted invocations. The model server
    runs in the test's own process, so tests queue replies and count requests directly.

    Args:
        app: The Restate app to serve, as ``"module:attribute"`` (importable from ``pythonpath``).
        base_dir: A fresh directory for the engine's data and the logs (e.g. pytest's ``tmp_path``).
        model: The responder of the model server; a fresh :class:`ScriptedModel` by default.
        always_replay: Run the engine with inactivity timeout 0, so every suspension replays the journal.
        env: Extra environment for the service process.
        pythonpath: Directories prepended to the service process's ``PYTHONPATH``.
        check_step_names: Make :meth:`stop` fail when an invocation's journal names two steps alike (see
            :meth:`repeated_step_names`). Turn it off only for a test that writes such a journal on purpose.
        unchecked_services: Services whose journals that check skips: ones served by code that is not ours
            (Restate's ``restate.ext.openai`` names every model call ``call LLM``).
        tracing_endpoint: Where the engine exports its OpenTelemetry spans (``EngineConfig.tracing_endpoint``,
            e.g. ``http+json+otlp://127.0.0.1:<port>``); the service's own export is set through ``env``
            (``OTEL_EXPORTER_OTLP_ENDPOINT``).
    """

    def __init__(
        self,
        app: str,
        base_dir: Path,
        *,
        model: Responder | None = None,
        always_replay: bool = False,
        env: Mapping[str, str] | None = None,
        pythonpath: list[Path] | None = None,
        check_step_names: bool = True,
        unchecked_services: Collection[str] = (),
        tracing_endpoint: str | None = None,
    ) -> None:
        self.base_dir = Path(base_dir)
        self.check_step_names = check_step_names
        self.unchecked_services = frozenset(unchecked_services)
        self.responder: Responder = model if model is not None else ScriptedModel()
        self.model_server = ModelServer(self.responder)
        self.engine = RestateServer(
            EngineConfig(
                base_dir=self.base_dir / "restate",
                ingress_port=0,
                admin_port=0,
                node_port=0,
                always_replay=always_replay,
                tracing_endpoint=tracing_endpoint,
            )
        )
        self._app = app
        self._extra_env = dict(env or {})
        self._pythonpath = [str(p) for p in pythonpath or []]
        self.service: ServiceProcess | None = None
        self._http = httpx.Client(timeout=httpx.Timeout(60.0, connect=5.0))

    @property
    def scripted(self) -> ScriptedModel:
        """The scripted model (only when no other responder was given)."""
        if not isinstance(self.responder, ScriptedModel):
            raise ResilientAgentsError("this AgentTestEnv was built with another responder, not a ScriptedModel")
        return self.responder

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> AgentTestEnv:
        """Start the model server, the engine and the app, and register the app with the engine."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.model_server.start()
        self.engine.start()
        self.service = ServiceProcess(
            self._app,
            env=self._service_env(),
            log_path=self.base_dir / "service.log",
        )
        self.service.start()
        register_deployment(self.engine.admin_url, self.service.url, force=True)
        return self

    def stop(self) -> None:
        """Stop everything this environment started.

        Before the engine stops, every journal it holds is checked for a step name used twice (unless the
        environment was built with ``check_step_names=False``); everything is stopped either way.

        Raises:
            RepeatedStepNamesError: An invocation's journal names two steps alike.
        """
        try:
            if self.check_step_names and self.engine.running:
                self._check_step_names()
        finally:
            if self.service is not None:
                self.service.stop()
            self.engine.stop()
            self.model_server.stop()
            self._http.close()

    def __enter__(self) -> AgentTestEnv:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _service_env(self) -> dict[str, str]:
        env = {
            "OPENAI_API_KEY": "test-key-not-secret",
            "OPENAI_BASE_URL": self.model_server.base_url,
            "RESILIENT_AGENTS_API": "responses",
            "RESILIENT_AGENTS_MODEL": "scripted",
            "OPENAI_AGENTS_DISABLE_TRACING": "1",
            "PYTHONUNBUFFERED": "1",
        }
        paths = [*self._pythonpath, *filter(None, [os.environ.get("PYTHONPATH")])]
        if paths:
            env["PYTHONPATH"] = os.pathsep.join(paths)
        env.update(self._extra_env)
        return env

    # -- the service process -------------------------------------------------------------------------------

    def kill_service(self) -> None:
        """SIGKILL the process that serves the app (no cleanup, no goodbye)."""
        self._require_service().kill()

    def restart_service(self) -> None:
        """Start the app's process again after :meth:`kill_service`."""
        self._require_service().restart()

    def _require_service(self) -> ServiceProcess:
        if self.service is None:
            raise ResilientAgentsError("AgentTestEnv is not started; use it as a context manager or call start()")
        return self.service

    # -- talking to the engine -----------------------------------------------------------------------------

    def call(
        self,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        idempotency_key: str | None = None,
        timeout: float = 60.0,
    ) -> httpx.Response:
        """POST to the ingress, e.g. ``call("Agent/run", "What is the weather in Detroit?")``.

        Args:
            path: ``<Service>/<handler>`` or ``<Object>/<key>/<handler>`` (add ``/send`` for async).
            body: JSON-encoded as the request body (ignored when ``raw`` is given); ``None`` sends no body.
            raw: The exact request body bytes.
            idempotency_key: Sent as the ``idempotency-key`` header.
            timeout: Seconds to wait for the answer.
        """
        headers: dict[str, str] = {}
        if idempotency_key is not None:
            headers["idempotency-key"] = idempotency_key
        content: bytes | None = raw
        if raw is None and body is not None:
            content = json.dumps(body).encode()
        if content is not None:  # Handlers without input must get no body and no content type.
            headers["content-type"] = "application/json"
        return self._http.post(f"{self.engine.ingress_url}/{path}", content=content, headers=headers, timeout=timeout)

    def send(self, path: str, body: Any = None, *, idempotency_key: str | None = None) -> str:
        """Start an invocation without waiting for it; return its invocation id."""
        response = self.call(f"{path}/send", body, idempotency_key=idempotency_key)
        response.raise_for_status()
        invocation_id: str = response.json()["invocationId"]
        return invocation_id

    def attach(self, invocation_id: str, timeout: float = 60.0) -> httpx.Response:
        """Wait for an invocation to finish and return the ingress response with its result."""
        return self._http.get(f"{self.engine.ingress_url}/restate/invocation/{invocation_id}/attach", timeout=timeout)

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Run SQL against the engine's introspection tables (``sys_invocation``, ``sys_journal``, ``state``)."""
        return query(self.engine.admin_url, sql)

    def journal(self, invocation_id: str) -> list[JournalEntry]:
        """Return the journal of an invocation, in order."""
        rows = self.query(f"SELECT * FROM sys_journal WHERE id = '{_sql_literal(invocation_id)}' ORDER BY index")
        return [
            JournalEntry(
                index=int(r["index"]), entry_type=str(r.get("entry_type", "")), name=str(r.get("name") or ""), raw=r
            )
            for r in rows
        ]

    def invocation_status(self, invocation_id: str) -> str | None:
        """Return the engine's status of an invocation (``running``, ``backing-off``, ``completed``...)."""
        rows = self.query(f"SELECT status FROM sys_invocation WHERE id = '{_sql_literal(invocation_id)}'")
        return str(rows[0]["status"]) if rows else None

    def repeated_step_names(self) -> list[RepeatedStepName]:
        """Step names that one invocation's journal uses more than once, over every journal the engine holds.

        A step's name is how a replay and a reader of the journal (the Restate UI, ``status``) tell steps apart,
        so no journal written by our code may repeat one: model calls are numbered (``llm: Agent #2``), a tool
        step used twice gets ``#2``. Only ``Command`` entries with a non-empty name count; the journals of
        ``unchecked_services`` are left out.
        """
        rows = self.query(
            "SELECT id, name, count(*) AS n FROM sys_journal WHERE name != '' AND entry_type LIKE 'Command%' "
            "GROUP BY id, name HAVING count(*) > 1 ORDER BY id, name"
        )
        if not rows:
            return []
        ids = ", ".join(f"'{_sql_literal(str(r['id']))}'" for r in rows)
        invocations = {
            str(r["id"]): (str(r.get("target") or "?"), str(r.get("target_service_name") or ""))
            for r in self.query(f"SELECT id, target, target_service_name FROM sys_invocation WHERE id IN ({ids})")
        }
        repeated = []
        for row in rows:
            target, service = invocations.get(str(row["id"]), ("?", ""))
            if service not in self.unchecked_services:
                repeated.append(RepeatedStepName(str(row["id"]), target, str(row["name"]), int(row["n"])))
        return repeated

    def _check_step_names(self) -> None:
        repeated = self.repeated_step_names()
        if repeated:
            lines = "\n".join(f"  {r.invocation_id} ({r.target}): {r.name!r} x{r.count}" for r in repeated)
            raise RepeatedStepNamesError(
                f"{len(repeated)} step name(s) used more than once within one invocation's journal:\n{lines}\n"
                "Give every durable step of an invocation its own name (number repeats: 'tool: x #2'). A test "
                "that writes such a journal on purpose passes check_step_names=False to AgentTestEnv; a service "
                "whose code is not ours goes in AgentTestEnv(unchecked_services=[...])."
            )

    def llm_requests(self) -> int:
        """How many model requests the model server has seen."""
        return len(self.model_server.requests)


def wait_until(predicate: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.02, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy; return that. Tests wait for state, not for time.

    Raises:
        TimeoutError: When ``timeout`` seconds pass first; the message names ``what``.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what or predicate!r}")
        time.sleep(interval)


def _sql_literal(text: str) -> str:
    return text.replace("'", "''")
