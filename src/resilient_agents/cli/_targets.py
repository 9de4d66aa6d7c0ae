"""An app's services and handlers as the engine lists them, which one ``chat`` talks to, how to call each.

Private module. Everything comes from the Restate admin API (``GET /services``, the same descriptions a
registration returns), so the CLI never imports the app to learn its services.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Collection, Iterable
from typing import Any, Literal

import httpx

from resilient_agents.errors import ConfigurationError, EngineError

from ._apps import AppConfig, Project, running_up_state

ServiceKind = Literal["service", "virtual_object", "workflow"]
_KINDS: dict[str, ServiceKind] = {"Service": "service", "VirtualObject": "virtual_object", "Workflow": "workflow"}
_KIND_WORDS = {"service": "service", "virtual_object": "virtual object", "workflow": "workflow"}
# Handlers a chat message goes to when nobody said which one (in this order of preference).
_CHAT_HANDLERS: tuple[tuple[ServiceKind, str], ...] = (("virtual_object", "message"), ("service", "run"))


@dataclasses.dataclass(frozen=True)
class HandlerInfo:
    """One handler of a service, as the admin API describes it."""

    name: str
    """The handler's name (the last part of its URL)."""
    input: str = ""
    """Restate's description of the input: ``none``, ``JSON string``, ``JSON 'Model'``, ``*/*``..."""

    @property
    def takes_input(self) -> bool:
        """Whether a request must carry a body (the ingress refuses one for a handler without input)."""
        return self.input != "none"

    @property
    def takes_text(self) -> bool:
        """Whether a plain JSON string fits the input (what ``chat`` sends)."""
        return self.input in ("", "*/*", "JSON string", "JSON value", "JSON")


@dataclasses.dataclass(frozen=True)
class ServiceInfo:
    """A service, Virtual Object or Workflow and its public handlers."""

    name: str
    """The service's name (the first part of its URL)."""
    kind: ServiceKind
    """``service``, ``virtual_object`` or ``workflow``."""
    handlers: tuple[HandlerInfo, ...] = ()
    """Its public handlers, in the order the app declares them."""

    @property
    def keyed(self) -> bool:
        """Whether a call names a key (a Virtual Object's or a Workflow's): ``/<name>/<key>/<handler>``."""
        return self.kind != "service"

    def handler(self, name: str) -> HandlerInfo | None:
        """The handler called ``name``, if the service has one."""
        return next((h for h in self.handlers if h.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (for ``up``'s state file)."""
        return {"name": self.name, "kind": self.kind, "handlers": [dataclasses.asdict(h) for h in self.handlers]}

    @classmethod
    def from_json(cls, data: Any) -> ServiceInfo | None:
        """Read :meth:`to_json`'s form back; None when ``data`` is not one."""
        if not isinstance(data, dict) or data.get("kind") not in _KIND_WORDS or not isinstance(data.get("name"), str):
            return None
        handlers = tuple(
            HandlerInfo(str(h["name"]), str(h.get("input", "")))
            for h in data.get("handlers") or []
            if isinstance(h, dict) and "name" in h
        )
        return cls(data["name"], data["kind"], handlers)


def parse_services(body: Any, only: Collection[str] | None = None) -> list[ServiceInfo]:
    """The public services in an admin API answer (``GET /services`` or a registration's), by name.

    Args:
        body: The JSON answer, ``{"services": [{"name": ..., "ty": ..., "handlers": [...]}, ...]}``.
        only: Keep just these service names (e.g. those of one deployment).
    """
    found: list[ServiceInfo] = []
    for entry in body.get("services", []) if isinstance(body, dict) else []:
        if not isinstance(entry, dict) or entry.get("public") is False or "name" not in entry:
            continue
        name = str(entry["name"])
        if only is not None and name not in only:
            continue
        handlers = tuple(
            HandlerInfo(str(h["name"]), str(h.get("input_description") or ""))
            for h in entry.get("handlers") or []
            if isinstance(h, dict) and "name" in h and h.get("public") is not False
        )
        found.append(ServiceInfo(name, _KINDS.get(str(entry.get("ty")), "service"), handlers))
    return sorted(found, key=lambda s: s.name)


def fetch_services(
    admin_url: str, only: Collection[str] | None = None, *, timeout: float = 5.0, app: str = "APP"
) -> list[ServiceInfo]:
    """Ask the admin API for the registered services (``GET /services``); ``app`` names the app in hints.

    Raises:
        EngineError: The admin API is unreachable or answers with an error.
    """
    url = f"{admin_url.rstrip('/')}/services"
    try:
        response = httpx.get(url, timeout=httpx.Timeout(timeout, connect=2.0), trust_env=False)
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        raise EngineError(
            f"cannot reach the Restate admin API at {admin_url} ({error}); start the stack with "
            f"`resilient-agents up {app}`, or pass --admin URL"
        ) from error
    if response.status_code >= 400:
        raise EngineError(f"GET {url} answered HTTP {response.status_code}: {response.text.strip()[:300]}")
    return parse_services(response.json(), only)


@dataclasses.dataclass(frozen=True)
class Target:
    """The handler a ``chat`` message goes to."""

    service: str
    """The service's name."""
    handler: str
    """The handler's name."""
    keyed: bool | None
    """Whether the URL needs a key; None when the services are not known (then ``--session`` decides)."""
    takes_input: bool = True
    """Whether the handler takes a body."""

    def path(self, key: str | None) -> str:
        """The ingress path: ``Service/handler`` or ``Object/<key>/handler``."""
        return f"{self.service}/{key}/{self.handler}" if key is not None else f"{self.service}/{self.handler}"


def choose_target(services: list[ServiceInfo] | None, wanted: str | None) -> Target:
    """The handler to send a chat message to.

    Args:
        services: The app's services, or None when they are not known (the admin API is unreachable).
        wanted: ``Service/handler`` or ``Service`` (from ``--to`` or the app's ``chat`` setting); None: pick
            the one Virtual Object with a ``message`` handler, else the one service with ``run``, else the only
            handler there is.

    Raises:
        ConfigurationError: The name is unknown or the choice is ambiguous; the message lists the choices.
        EngineError: The services are needed (no handler named) but not known.
    """
    if wanted is not None:
        service_name, _, handler_name = wanted.strip("/").partition("/")
        if services is None:
            if not handler_name:
                raise EngineError(f"cannot find the handlers of {service_name!r}: name one with --to {wanted}/HANDLER")
            return Target(service_name, handler_name, None)
        service = next((s for s in services if s.name == service_name), None)
        if service is None:
            raise ConfigurationError(f"no service {service_name!r} is registered; {_choices(services)}")
        return _target_in(service, handler_name)
    if services is None:
        raise EngineError("cannot tell which handler to call: name it with --to Service/handler")
    for kind, handler_name in _CHAT_HANDLERS:
        matches = [s for s in services if s.kind == kind and s.handler(handler_name) is not None]
        if len(matches) == 1:
            return _target_in(matches[0], handler_name)
    everything = [(s, h) for s in services for h in s.handlers]
    if len(everything) == 1:
        return _target_in(everything[0][0], everything[0][1].name)
    if not everything:
        raise ConfigurationError("no services are registered: start the app with `resilient-agents up APP`")
    raise ConfigurationError(f"which handler? {_choices(services)}")


def _target_in(service: ServiceInfo, handler_name: str) -> Target:
    if not handler_name:
        preferred = "message" if service.kind == "virtual_object" else "run"
        if service.handler(preferred) is not None:
            handler_name = preferred
        elif len(service.handlers) == 1:
            handler_name = service.handlers[0].name
        else:
            names = ", ".join(f"{service.name}/{h.name}" for h in service.handlers) or "(none)"
            raise ConfigurationError(f"which handler of {service.name!r}? pass --to with one of {names}")
    handler = service.handler(handler_name)
    if handler is None:
        names = ", ".join(h.name for h in service.handlers) or "(none)"
        raise ConfigurationError(f"{service.name!r} has no handler {handler_name!r}; its handlers: {names}")
    return Target(service.name, handler.name, service.keyed, handler.takes_input)


def _choices(services: Iterable[ServiceInfo]) -> str:
    names = [f"{s.name}/{h.name}" for s in services for h in s.handlers]
    return f"pass --to with one of: {', '.join(names)}" if names else "no handlers are registered"


def call_lines(services: Iterable[ServiceInfo], ingress: str, *, key: str = "KEY") -> list[str]:
    """How to call each handler: a curl line, and a ``chat`` line for handlers that take text or nothing."""
    ingress = ingress.rstrip("/")
    lines: list[str] = []
    for service in services:
        note = f"; {key} = the object's key, e.g. a session id" if service.kind == "virtual_object" else ""
        note = f"; {key} = the workflow's id" if service.kind == "workflow" else note
        lines.append(f"{service.name} ({_KIND_WORDS[service.kind]}{note})")
        width = max((len(h.name) for h in service.handlers), default=0)
        for handler in service.handlers:
            path = Target(service.name, handler.name, service.keyed).path(key if service.keyed else None)
            lines.append(f"  {handler.name:<{width}}  {_curl(ingress, path, handler)}")
            if handler.takes_text or not handler.takes_input:
                session = f" --session {key}" if service.keyed else ""
                message = " 'hello'" if handler.takes_input else ""
                lines.append(
                    f"  {'':<{width}}  resilient-agents chat --to {service.name}/{handler.name}{session}{message}"
                )
    return lines


def _curl(ingress: str, path: str, handler: HandlerInfo) -> str:
    if not handler.takes_input:
        return f"curl -X POST {ingress}/{path}"
    if handler.takes_text:
        return f"curl {ingress}/{path} --json '{json.dumps('hello')}'"
    shape = handler.input.removeprefix("JSON ").strip("'") or "input"
    return f"curl {ingress}/{path} --json '<{shape} as JSON>'"


@dataclasses.dataclass(frozen=True)
class Resolved:
    """What ``chat`` (and ``sessions show``) found: the app, if any, and the handler to call."""

    app: AppConfig | None
    """The app named by ``--app``, the running ``up``'s, or the configured default; None if there is none."""
    target: Target
    """The handler."""
    admin_url: str
    """The admin API consulted (or that would have been)."""


def resolve_target(
    project: Project, app_arg: str | None, to: str | None, admin_arg: str | None, default_admin: str
) -> Resolved:
    """Find the handler ``chat`` talks to, without importing the app.

    The handler comes from ``to`` (``--to``), else the app's ``chat`` setting, else the services: those ``up``
    registered for this app (its state file), else all that the admin API lists; see :func:`choose_target`.

    Raises:
        ConfigurationError: An unknown app or handler, or an ambiguous choice (the message lists the choices).
        EngineError: The services are needed but the admin API cannot be reached.
    """
    state = running_up_state(project.data_dir)
    admin = admin_arg or os.environ.get("RESTATE_ADMIN_URL") or str(state.get("admin_url") or "") or default_admin
    app_name = app_arg or state.get("app") or project.default_app
    app = project.resolve(str(app_name)) if app_name else None
    same_app = app is not None and state.get("app") == app.name
    wanted = to or (app.chat if app else None) or (state.get("chat") if same_app else None)
    registered: list[ServiceInfo] | None = None
    if same_app and isinstance(state.get("services"), list):
        registered = [s for s in map(ServiceInfo.from_json, state["services"]) if s is not None]
    services = registered
    if services is None or to:  # An explicit --to may name a service of another app on the same engine.
        try:
            services = fetch_services(admin, app=app.name if app else "APP")
        except EngineError:
            if registered is None and (not wanted or "/" not in wanted.strip("/")):
                raise
    return Resolved(app, choose_target(services, wanted), admin)
