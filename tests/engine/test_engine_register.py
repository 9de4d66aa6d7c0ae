"""register_deployment never silently takes over another app's services; re-registering and upgrading still work."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from resilient_agents.engine import (
    DeploymentConflictError,
    RestateServer,
    ServiceProcess,
    list_deployments,
    register_deployment,
)

from .conftest import REPO_ROOT

pytestmark = pytest.mark.engine
APP = "tests.engine.shared_names_app:"


@pytest.fixture
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServiceProcess]]:
    started: dict[str, ServiceProcess] = {}
    logs = tmp_path_factory.mktemp("logs")

    def start(name: str) -> ServiceProcess:
        return ServiceProcess(APP + name, cwd=REPO_ROOT, log_path=logs / f"{name}.log").start()

    for name in ("alpha", "alpha_v2", "beta"):
        started[name] = start(name)
    yield started
    for service in started.values():
        service.stop()


def _owners(admin: str) -> dict[str, str]:
    """Service name -> the URI of the deployment that serves it now."""
    uris = {d["id"]: d["uri"].rstrip("/") for d in list_deployments(admin)}
    services = httpx.get(f"{admin}/services", timeout=10).json()["services"]
    return {s["name"]: uris[s["deployment_id"]] for s in services}


def test_register_refuses_to_take_over_another_apps_services(
    restate_server: RestateServer, serve: dict[str, ServiceProcess]
) -> None:
    admin = restate_server.admin_url
    alpha, alpha_v2, beta = serve["alpha"], serve["alpha_v2"], serve["beta"]

    assert sorted(register_deployment(admin, alpha.url)) == ["Alpha", "Shared"]
    # The same app again: a plain re-register (what `up` does at every start) keeps working.
    assert sorted(register_deployment(admin, alpha.url)) == ["Alpha", "Shared"]
    assert sorted(register_deployment(admin, alpha.url, force=False)) == ["Alpha", "Shared"]
    [deployment] = list_deployments(admin)

    # Another app that shares the name `Shared` is refused, naming the services and both deployments.
    with pytest.raises(DeploymentConflictError) as refused:
        register_deployment(admin, beta.url)
    message = str(refused.value)
    assert f"refusing to register the deployment at {beta.url!r} (services 'Beta', 'Shared')" in message
    assert f"'Shared' from deployment {deployment['id']} at {alpha.url + '/'!r}" in message
    assert "which also offers 'Alpha' that the new deployment does not" in message
    assert "take_over=True" in message
    assert refused.value.services == ["Shared"] and refused.value.current == [deployment["id"]]
    # Nothing changed: the dry run did not register anything.
    assert len(list_deployments(admin)) == 1
    assert _owners(admin) == {"Alpha": alpha.url, "Shared": alpha.url}

    # An upgrade of the first app (a superset, at a new URI) takes its services over, as upgrades must.
    assert sorted(register_deployment(admin, alpha_v2.url)) == ["Alpha", "AlphaReports", "Shared"]
    assert _owners(admin) == {"Alpha": alpha_v2.url, "AlphaReports": alpha_v2.url, "Shared": alpha_v2.url}

    # The escape hatch.
    assert sorted(register_deployment(admin, beta.url, take_over=True)) == ["Beta", "Shared"]
    assert _owners(admin)["Shared"] == beta.url
    # And now the first app cannot silently take `Shared` back either.
    with pytest.raises(DeploymentConflictError, match=r"'Shared' from deployment dp_\w+ at .* also offers 'Beta'"):
        register_deployment(admin, alpha_v2.url)
    assert _owners(admin)["Shared"] == beta.url
