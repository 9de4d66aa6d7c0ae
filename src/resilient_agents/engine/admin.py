"""A small synchronous client for the Restate admin API (deployments, services, SQL introspection, health)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from resilient_agents.errors import EngineError

__all__ = ["list_deployments", "list_services", "query", "register_deployment", "wait_healthy"]

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


def register_deployment(admin_url: str, uri: str, *, force: bool = True, timeout: float = 30.0) -> list[str]:
    """Register (or, with ``force``, re-register) the service deployment at ``uri`` with Restate.

    Restate calls the deployment's discovery endpoint, so the service must be serving already.

    Args:
        admin_url: The admin API base URL, e.g. ``http://127.0.0.1:9070``.
        uri: The deployment's base URL as the *server* reaches it, e.g. ``http://127.0.0.1:9080``.
        force: Overwrite an existing deployment at the same URI (handy during development, when handlers change).
        timeout: Seconds to wait for the admin API, discovery included.

    Returns:
        The names of the services the deployment provides.

    Raises:
        EngineError: The admin API is unreachable, or Restate could not reach or accept the deployment (the
            message quotes Restate's answer).
    """
    response = _request(
        "POST",
        f"{admin_url.rstrip('/')}/deployments",
        json={"uri": uri, "force": force},
        timeout=httpx.Timeout(timeout, connect=2.0),
    )
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
    body = response.json()
    services = body.get("services", []) if isinstance(body, dict) else []
    return [str(service["name"]) for service in services if isinstance(service, dict) and "name" in service]


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
