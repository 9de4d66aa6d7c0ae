"""Agents as tools run as nested durable runs: their own step names, deterministic replay, cancellation."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from resilient_agents.models import ParsedRequest, Reply, ToolCall
from resilient_agents.models.reply import Fault
from resilient_agents.models.request import Responder
from resilient_agents.testing import AgentTestEnv, wait_until

from .conftest import app_env_factory

pytestmark = pytest.mark.engine


class Translations(Responder):
    """Answers by who is asking; ``hold`` makes the sub-agents' calls wait (for the cancellation test)."""

    def __init__(self) -> None:
        self.hold: threading.Event | None = None
        self.held = threading.Event()

    def respond(self, request: ParsedRequest) -> Reply | Fault:
        instructions = request.instructions or ""
        if "Spanish" in instructions and "tools" not in instructions:
            return self._sub("hola")
        if "French" in instructions and "tools" not in instructions:
            return self._sub("bonjour")
        outputs = request.trailing_tool_outputs()
        if outputs:
            return Reply.say("; ".join(output.text for output in outputs))
        text = request.last_user_text or ""
        return Reply.calls(ToolCall("to_spanish", {"input": text}), ToolCall("to_french", {"input": text}))

    def _sub(self, word: str) -> Reply:
        if self.hold is not None:
            self.held.set()
            self.hold.wait(timeout=120)
        return Reply.say(word)


@pytest.fixture
def nested_env(agent_env: Callable[..., AgentTestEnv], gate: Path) -> Callable[..., AgentTestEnv]:
    return app_env_factory(agent_env, "tests.apps.nested_agents:app", gate)


@pytest.mark.parametrize("always_replay", [False, True], ids=["normal", "always-replay"])
def test_agents_as_tools_replay_deterministically_under_their_own_names(
    nested_env: Callable[..., AgentTestEnv], always_replay: bool
) -> None:
    model = Translations()
    env = nested_env(model=model, always_replay=always_replay)
    for number in range(20):
        response = env.call("Translate/run", "hello", timeout=120)
        assert response.status_code == 200, response.text
        assert response.json() == "hola; bonjour"
        assert env.llm_requests() == 4 * (number + 1)  # Each model call sent once, replays included.
        invocation = response.headers["x-restate-id"]
        names = [entry.name for entry in env.journal(invocation) if entry.name]
        assert {"llm: Orchestrator #1", "llm: Orchestrator #4"} <= set(names), names
        assert sorted(n.split(" #")[0] for n in names if n.startswith("llm: ") and "Orchestrator" not in n) == [
            "llm: French",
            "llm: Spanish",
        ], names
    log = (env.base_dir / "service.log").read_text()
    assert "(570)" not in log and "(598)" not in log, log[-3000:]


def test_cancel_during_a_nested_agent_ends_the_turn_cancelled(nested_env: Callable[..., AgentTestEnv]) -> None:
    model = Translations()
    model.hold = threading.Event()
    env = nested_env(model=model)
    invocation = env.send("Translate/run", "hello")
    wait_until(model.held.is_set, timeout=60, what="a sub-agent's model call")
    response = httpx.patch(f"{env.engine.admin_url}/invocations/{invocation}/cancel", timeout=30)
    assert response.status_code < 300, response.text
    result = env.attach(invocation, timeout=120)
    model.hold.set()
    assert result.status_code == 409, result.text
    assert env.llm_requests() == 3  # The orchestrator's first call and the two sub-agents'; none after.
