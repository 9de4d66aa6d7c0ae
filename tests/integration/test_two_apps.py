"""Two apps on one engine (issue 7, item 7): each keeps its own services, both run parallel tools.

Durable tools run inside each app's own turns (there is no shared ``DurableTools`` object any more); the
one shared name is the approvals object, which ``durable_app(..., namespace=...)`` sets apart. Without a
namespace the second registration would take the first app's ``Approvals`` and is refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from resilient_agents.engine import DeploymentConflictError, ServiceProcess, register_deployment
from resilient_agents.models import ParsedRequest, Reply, ToolCall
from resilient_agents.models.reply import Fault
from resilient_agents.models.request import Responder
from resilient_agents.testing import AgentTestEnv

from .conftest import ROOT
from .test_concurrent_runs import TOPICS, TopicModel

pytestmark = pytest.mark.engine


class BothApps(Responder):
    """The research app's model (by content) and the parallel-tools app's (five rendezvous calls)."""

    def __init__(self) -> None:
        self.research = TopicModel()

    def respond(self, request: ParsedRequest) -> Reply | Fault:
        if request.tool("rendezvous") is None:
            return self.research.respond(request)
        outputs = request.trailing_tool_outputs()
        if outputs:
            return Reply.say(" | ".join(output.text for output in outputs))
        group = request.last_user_text or ""  # One meeting point per turn.
        calls = [ToolCall("rendezvous", {"index": i, "group": group, "parties": 3}) for i in range(3)]
        return Reply.calls(*calls)


def _second_app(env: AgentTestEnv, gate: Path, namespace: str | None) -> ServiceProcess:
    service_env = {
        "OPENAI_API_KEY": "test-key-not-secret",
        "OPENAI_BASE_URL": env.model_server.base_url,
        "RESILIENT_AGENTS_API": "responses",
        "RESILIENT_AGENTS_MODEL": "scripted",
        "OPENAI_AGENTS_DISABLE_TRACING": "1",
        "GATE_DIR": str(gate),
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    if namespace is not None:
        service_env["APP_NAMESPACE"] = namespace
    service = ServiceProcess(
        "tests.apps.concurrent_runs:app", env=service_env, log_path=env.base_dir / f"second-{namespace}.log"
    )
    service.start()
    return service


@pytest.fixture
def first_app(agent_env: Callable[..., AgentTestEnv], gate: Path) -> AgentTestEnv:
    return agent_env("tests.apps.parallel_tools:app", model=BothApps(), env={"GATE_DIR": str(gate)}, pythonpath=[ROOT])


def test_a_second_app_with_its_own_namespace_runs_beside_the_first(first_app: AgentTestEnv, gate: Path) -> None:
    second = _second_app(first_app, gate, namespace="research")
    try:
        register_deployment(first_app.engine.admin_url, second.url)
        for turn in range(3):
            parallel = first_app.call("Parallel/run", f"go {turn}")
            assert parallel.status_code == 200, parallel.text
            assert parallel.json() == " | ".join(f"call {i}: 3 of 3 running together" for i in range(3))
            research = first_app.call("Fanout/research", TOPICS, timeout=120)
            assert research.status_code == 200, research.text
            assert research.json() == [f"summary: facts about {topic}" for topic in TOPICS]
        services = {row["name"] for row in first_app.query("SELECT name FROM sys_service")}
        assert {"Approvals", "research.Approvals", "Parallel", "Fanout"} <= services, services
    finally:
        second.stop()


def test_a_second_app_that_would_take_over_the_approvals_object_is_refused(first_app: AgentTestEnv, gate: Path) -> None:
    second = _second_app(first_app, gate, namespace=None)
    try:
        with pytest.raises(DeploymentConflictError) as refused:
            register_deployment(first_app.engine.admin_url, second.url)
        assert "Approvals" in str(refused.value)
        # The first app still answers.
        assert first_app.call("Parallel/run", "go").status_code == 200
    finally:
        second.stop()
