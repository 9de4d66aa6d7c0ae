"""The Restate engine, locally: find or install ``restate-server``, run it, serve services, talk to its admin API.

Typical use (tests, local development)::

    from resilient_agents.engine import EngineConfig, RestateServer, ServiceProcess, register_deployment

    with RestateServer(EngineConfig(base_dir=Path(".restate"), ingress_port=0, admin_port=0, node_port=0)) as server:
        with ServiceProcess("my_app:app") as service:
            register_deployment(server.admin_url, service.url)
            httpx.post(f"{server.ingress_url}/Greeter/greet", json="world")

Run servers inside a loopback-only network namespace where you can (:func:`enter_loopback_namespace`):
``restate-server`` contacts GitHub at every start.
"""

from __future__ import annotations

import typing as _typing

from resilient_agents.engine.admin import (
    DeploymentConflictError,
    list_deployments,
    list_services,
    query,
    register_deployment,
    wait_healthy,
)
from resilient_agents.engine.binary import (
    RESTATE_VERSION,
    binary_version,
    ensure_restate_server,
    find_restate_cli,
    find_restate_server,
)
from resilient_agents.engine.cluster import RestateCluster
from resilient_agents.engine.netns import enter_loopback_namespace, in_loopback_namespace
from resilient_agents.engine.ports import pick_free_port
from resilient_agents.engine.process import ServiceProcess
from resilient_agents.engine.server import EngineConfig, RestateServer

if _typing.TYPE_CHECKING:
    from resilient_agents.engine._serving import load_app, serve_app

__all__ = [
    "RESTATE_VERSION",
    "DeploymentConflictError",
    "EngineConfig",
    "RestateCluster",
    "RestateServer",
    "ServiceProcess",
    "binary_version",
    "ensure_restate_server",
    "enter_loopback_namespace",
    "find_restate_cli",
    "find_restate_server",
    "in_loopback_namespace",
    "list_deployments",
    "list_services",
    "load_app",
    "pick_free_port",
    "query",
    "register_deployment",
    "serve_app",
    "wait_healthy",
]


def __getattr__(name: str) -> _typing.Any:
    # Serving needs the Restate SDK and hypercorn: loaded on first use, so the admin client and the CLI stay light.
    if name in ("load_app", "serve_app"):
        from resilient_agents.engine import _serving

        return getattr(_serving, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *("load_app", "serve_app")])
