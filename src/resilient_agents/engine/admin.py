"""A small synchronous client for the Restate admin API (deployments, services, SQL introspection, health,
and cancelling, killing, pausing or resuming one invocation)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import quote

import httpx

from resilient_agents.errors import EngineError

__all__ = [
    "DeploymentConflictError",
    "InvocationAction",
    "InvocationNotFoundError",
    "InvocationStateError",
    "cancel_invocation",
    "kill_invocation",
    "list_deployments",
    "list_services",
    "pause_invocation",
    "query",
    "register_deployment",
    "resume_invocation",
    "wait_healthy",
]

_TIMEOUT = httpx.Timeout(10.0, connect=2.0)
# Registration makes the server call the deployment's discovery endpoint; give it time.
_REGISTER_TIMEOUT = httpx.Timeout(30.0, connect=2.0)
_TEXT_LIMIT = 2000


def _cut(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT] + " …"


def _request(method: str, url: str, *, timeout: httpx.Timeout = _TIMEOUT, **kwargs: Any) -> httpx.Response:
    try:
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            return client.request(method, url, **kwargs)
    except httpx.TimeoutException as error:
        raise EngineError(
            f"the Restate admin API did not answer {method} {url!r} in time ({error!r}); check that restate-server "
            "is running and healthy (see its log)."
        ) from error
    except httpx.HTTPError as error:
        raise EngineError(
            f"cannot reach the Restate admin API at {url!r} ({error!r}): start restate-server (RestateServer.start()) "
            "or fix the admin URL."
        ) from error


class DeploymentConflictError(EngineError):
    """A registration would take over services that belong to another app's deployment (see
    :func:`register_deployment`)."""

    def __init__(self, message: str, services: list[str], current: list[str]) -> None:
        super().__init__(message)
        self.services = services
        """The services the new deployment would take over."""
        self.current = current
        """The ids of the deployments that serve them now."""


def register_deployment(
    admin_url: str, uri: str, *, force: bool = True, take_over: bool = False, timeout: float = 30.0
) -> list[str]:
    """Register (or, with ``force``, re-register) the service deployment at ``uri`` with Restate.

    Restate calls the deployment's discovery endpoint, so the service must be serving already.

    Restate lets a new deployment take over services of the same name from another deployment: that is how
    upgrades work. It is also how an unrelated app that happens to share a name (``DurableTools``,
    ``Approvals``) would silently take over the first app's services. So unless ``take_over`` is set, the
    new deployment is first discovered in a dry run, and the registration is refused when it would take over
    a service from a deployment at another URI that offers services the new one does not. Registering the
    same app again (also with new handlers, at the same or a new URI) and upgrades that add services pass.
    Re-registering the same URI updates that deployment in place, so it never counts as a take-over.

    Args:
        admin_url: The admin API base URL, e.g. ``http://127.0.0.1:9070``.
        uri: The deployment's base URL as the *server* reaches it, e.g. ``http://127.0.0.1:9080``.
        force: Overwrite an existing deployment at the same URI (handy during development, when handlers change).
        take_over: Register even when that takes services over from a deployment of another app.
        timeout: Seconds to wait for the admin API, discovery included.

    Returns:
        The names of the services the deployment provides.

    Raises:
        DeploymentConflictError: The deployment would take over another app's services (and ``take_over`` is
            not set); the message names the services and both deployments.
        EngineError: The admin API is unreachable, or Restate could not reach or accept the deployment (the
            message quotes Restate's answer).
    """
    admin_url = admin_url.rstrip("/")
    if not take_over:
        # Without force, a dry run at a known URI answers with the deployment as it is registered, not with
        # what the URI serves now; force makes Restate discover it afresh (nothing is written in a dry run).
        planned = _post_deployment(admin_url, {"uri": uri, "force": True, "dry_run": True}, timeout)
        _refuse_take_over(admin_url, uri, _service_names(planned))
    body = _post_deployment(admin_url, {"uri": uri, "force": force}, timeout)
    return _service_names(body)


def _post_deployment(admin_url: str, payload: dict[str, Any], timeout: float) -> Any:
    uri = payload["uri"]
    response = _request("POST", f"{admin_url}/deployments", json=payload, timeout=httpx.Timeout(timeout, connect=2.0))
    if response.status_code >= 400:
        hint = (
            "start the service first (ServiceProcess.start()) and make sure restate-server can reach that URI"
            if response.status_code >= 500
            else "check the URI and the handlers"
        )
        if response.status_code == 409:
            hint = "the deployment changed incompatibly; register with force=True or remove the old deployment"
        raise EngineError(
            f"Restate could not register the deployment {uri!r} (HTTP {response.status_code}): "
            f"{_cut(response.text)}; {hint}."
        )
    return response.json()


def _service_names(body: Any) -> list[str]:
    services = body.get("services", []) if isinstance(body, dict) else []
    return [str(service["name"]) for service in services if isinstance(service, dict) and "name" in service]


def _refuse_take_over(admin_url: str, uri: str, new_services: list[str]) -> None:
    """Raise :class:`DeploymentConflictError` when registering ``new_services`` at ``uri`` takes over another app's."""
    body = _get_json(f"{admin_url}/services")
    current = {
        str(service["name"]): str(service.get("deployment_id"))
        for service in (body.get("services", []) if isinstance(body, dict) else [])
        if isinstance(service, dict) and "name" in service
    }
    deployments = {str(d.get("id")): d for d in list_deployments(admin_url)}
    offered = set(new_services)
    conflicts: dict[str, list[str]] = {}  # deployment id -> services it would lose
    for name in new_services:
        owner = deployments.get(current.get(name, ""))
        if owner is None or str(owner.get("uri", "")).rstrip("/") == uri.rstrip("/"):
            continue
        if set(_service_names(owner)) - offered:
            conflicts.setdefault(str(owner["id"]), []).append(name)
    if not conflicts:
        return
    parts = []
    for deployment_id, taken in conflicts.items():
        owner = deployments[deployment_id]
        only_there = sorted(set(_service_names(owner)) - offered)
        parts.append(
            f"{_names(taken)} from deployment {deployment_id} at {owner.get('uri')!r}, which also offers "
            f"{_names(only_there)} that the new deployment does not"
        )
    raise DeploymentConflictError(
        f"refusing to register the deployment at {uri!r} (services {_names(new_services)}): it would take over "
        + "; and ".join(parts)
        + ". That looks like another app sharing service names, whose calls would then reach this one. Register "
        "it on its own engine (another data dir and ports), rename the services, remove the old deployment, or "
        "pass take_over=True to take them over anyway.",
        services=sorted(name for taken in conflicts.values() for name in taken),
        current=sorted(conflicts),
    )


def _names(names: list[str]) -> str:
    return ", ".join(repr(name) for name in sorted(names))


def list_services(admin_url: str) -> list[str]:
    """List the names of the services registered with Restate.

    Args:
        admin_url: The admin API base URL.

    Returns:
        Service names, sorted.

    Raises:
        EngineError: The admin API is unreachable or answered with an error.
    """
    body = _get_json(f"{admin_url.rstrip('/')}/services")
    services = body.get("services", []) if isinstance(body, dict) else []
    return sorted(str(service["name"]) for service in services if isinstance(service, dict) and "name" in service)


def list_deployments(admin_url: str) -> list[dict[str, Any]]:
    """List the deployments registered with Restate, as the admin API describes them.

    Args:
        admin_url: The admin API base URL.

    Returns:
        One dict per deployment (``id``, ``uri``, ``services``... as returned by ``GET /deployments``).

    Raises:
        EngineError: The admin API is unreachable or answered with an error.
    """
    body = _get_json(f"{admin_url.rstrip('/')}/deployments")
    deployments = body.get("deployments", []) if isinstance(body, dict) else []
    return [deployment for deployment in deployments if isinstance(deployment, dict)]


def query(admin_url: str, sql: str) -> list[dict[str, Any]]:
    """Run an SQL query over Restate's introspection tables (``sys_invocation``, ``sys_journal``, ``state``...).

    Args:
        admin_url: The admin API base URL.
        sql: The query, e.g. ``"select id, target, status from sys_invocation"``.

    Returns:
        The rows, one dict per row keyed by column name.

    Raises:
        EngineError: The admin API is unreachable, or the query is invalid (the message quotes Restate's answer).
    """
    response = _request(
        "POST",
        f"{admin_url.rstrip('/')}/query",
        json={"query": sql},
        headers={"Accept": "application/json"},
    )
    if response.status_code >= 400:
        raise EngineError(
            f"Restate rejected the query {sql!r} (HTTP {response.status_code}): {_cut(response.text)}; fix the SQL "
            "(tables: sys_invocation, sys_journal, state, sys_service, sys_deployment, ...)."
        )
    body = response.json()
    rows = body.get("rows", []) if isinstance(body, dict) else []
    return [row for row in rows if isinstance(row, dict)]


def wait_healthy(
    admin_url: str,
    ingress_url: str | None = None,
    *,
    timeout: float = 30.0,
    alive: Callable[[], bool] | None = None,
    interval: float = 0.05,
) -> float:
    """Wait until the admin API (``GET /health``) and the ingress (``GET /restate/health``) answer 200,
    and the introspection tables answer a query (on a new data dir the partition processor comes up a
    moment after the health checks pass; a query then failed with "node lookup for partition 0 failed").

    Args:
        admin_url: The admin API base URL.
        ingress_url: The ingress base URL; not checked when None.
        timeout: Seconds to wait at most.
        alive: Called between attempts; when it returns False (e.g. the server process exited) waiting stops.
        interval: Seconds between attempts.

    Returns:
        The seconds it took.

    Raises:
        EngineError: Not healthy within ``timeout``, or ``alive`` returned False.
    """
    started = time.monotonic()
    deadline = started + timeout
    urls = [f"{admin_url.rstrip('/')}/health"]
    if ingress_url is not None:
        urls.append(f"{ingress_url.rstrip('/')}/restate/health")
    last = "no answer yet"
    with httpx.Client(timeout=httpx.Timeout(2.0, connect=0.5), trust_env=False) as client:
        while True:
            if alive is not None and not alive():
                raise EngineError(f"restate-server exited before it became healthy (last check: {last})")
            try:
                pending = False
                for url in urls:
                    response = client.get(url)
                    if response.status_code != 200:
                        last = f"GET {url} -> HTTP {response.status_code} {_cut(response.text)}"
                        pending = True
                        break
                if not pending:
                    probe = client.post(
                        f"{admin_url.rstrip('/')}/query",
                        json={"query": "SELECT id FROM sys_invocation LIMIT 1"},
                        headers={"accept": "application/json"},
                    )
                    if probe.status_code == 200:
                        return time.monotonic() - started
                    last = f"POST /query -> HTTP {probe.status_code} {_cut(probe.text)}"
            except httpx.HTTPError as error:
                last = f"{error!r}"
            if time.monotonic() >= deadline:
                raise EngineError(
                    f"restate-server did not become healthy within {timeout:g} s (last check: {last}); see its log, "
                    "or give it more time with start(timeout=...)."
                )
            time.sleep(interval)


def _get_json(url: str) -> Any:
    response = _request("GET", url)
    if response.status_code >= 400:
        raise EngineError(f"GET {url!r} failed with HTTP {response.status_code}: {_cut(response.text)}")
    return response.json()


InvocationAction = Literal["cancel", "kill", "pause", "resume"]
"""What :func:`cancel_invocation` and its siblings ask of the engine (``PATCH /invocations/{id}/<action>``)."""


class InvocationNotFoundError(EngineError):
    """The engine knows no invocation with that id (or the id is malformed)."""


class InvocationStateError(EngineError):
    """The invocation is not in a state that allows the action, e.g. it already finished."""


def cancel_invocation(admin_url: str, invocation_id: str) -> bool:
    """Cancel an invocation gracefully: its handler sees a cancellation (a ``TerminalError`` with status 409)
    at its next durable step, can clean up (sagas undo what they did) and ends failed with "cancelled".

    Args:
        admin_url: The admin API base URL.
        invocation_id: The invocation, e.g. ``inv_1ab...``.

    Returns:
        True when the engine cancelled it at once, False when it accepted the request and the handler sees it
        at its next attempt or step (a backing-off invocation sees it at its next retry).

    Raises:
        InvocationNotFoundError: No such invocation.
        InvocationStateError: It already finished.
        EngineError: The admin API is unreachable or failed.
    """
    return _patch_invocation(admin_url, invocation_id, "cancel")


def kill_invocation(admin_url: str, invocation_id: str) -> bool:
    """Kill an invocation at once: no handler code runs any more, no compensation, calls it made are not
    cancelled. Prefer :func:`cancel_invocation`; kill what does not react to cancellation.

    Returns:
        True (the engine kills synchronously); False if it only accepted the request.

    Raises:
        InvocationNotFoundError: No such invocation.
        InvocationStateError: It already finished.
        EngineError: The admin API is unreachable or failed.
    """
    return _patch_invocation(admin_url, invocation_id, "kill")


def resume_invocation(admin_url: str, invocation_id: str) -> bool:
    """Resume a paused (or suspended) invocation; a backing-off one retries at once.

    An invocation pauses when its retry policy runs out with ``on_max_attempts="pause"`` (our services'
    :func:`fast_retry_policy`), or after :func:`pause_invocation`. Fix the cause first: it resumes from its
    journal and runs the failing step again.

    Returns:
        True when resumed at once, False when the engine accepted the request for later.

    Raises:
        InvocationNotFoundError: No such invocation.
        InvocationStateError: It already finished, or it is queued (inboxed or scheduled) and has not started.
        EngineError: The admin API is unreachable or failed.
    """
    return _patch_invocation(admin_url, invocation_id, "resume")


def pause_invocation(admin_url: str, invocation_id: str) -> bool:
    """Pause a running or backing-off invocation: the engine stops retrying it until :func:`resume_invocation`.

    Returns:
        True when it was already paused, False when the engine accepted the request (it pauses shortly).

    Raises:
        InvocationNotFoundError: No such invocation.
        InvocationStateError: It is not running (finished, queued, or suspended).
        EngineError: The admin API is unreachable or failed.
    """
    return _patch_invocation(admin_url, invocation_id, "pause")


def _patch_invocation(admin_url: str, invocation_id: str, action: InvocationAction) -> bool:
    """``PATCH /invocations/{id}/{action}``; True for HTTP 200 (done), False for 202 (accepted)."""
    url = f"{admin_url.rstrip('/')}/invocations/{quote(invocation_id, safe='')}/{action}"
    response = _request("PATCH", url)
    if response.status_code < 300:
        return response.status_code == 200
    said = _engine_message(response)
    if response.status_code == 400 and "invocation_id" in said:
        raise InvocationNotFoundError(
            f"{invocation_id!r} is not an invocation id (they look like 'inv_1ab...'; the engine said: {said}); "
            "list them with `resilient-agents invocations list --status all`."
        )
    if response.status_code == 404:
        raise InvocationNotFoundError(
            f"the engine at {admin_url} has no invocation {invocation_id!r} (finished ones are forgotten after their "
            "retention time); list them with `resilient-agents invocations list --status all`."
        )
    if response.status_code in (409, 425):
        reason = said.rstrip(".")
        raise InvocationStateError(f"cannot {action} invocation {invocation_id!r}: {reason}{_state_hint(action, said)}")
    raise EngineError(f"PATCH {url!r} failed with HTTP {response.status_code}: {said}")


def _state_hint(action: InvocationAction, said: str) -> str:
    if "complete" in said:
        return ": nothing to do."
    if action == "resume":
        return " (only a paused, suspended or backing-off invocation can be resumed; a queued one starts by itself)."
    if action == "pause":
        return " (only a running or backing-off invocation can be paused)."
    return "."


def _engine_message(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return _cut(response.text) or f"HTTP {response.status_code}"
    message = body.get("message") if isinstance(body, dict) else None
    return _cut(str(message if message is not None else body))
