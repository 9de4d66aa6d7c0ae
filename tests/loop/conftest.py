"""Fixtures of the native loop tests: a scripted model server and one model client per wire format."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from resilient_agents.loop import AnthropicClient, ModelClient, OpenAIChatClient, OpenAIResponsesClient
from resilient_agents.models import ModelServer, ScriptedModel
from resilient_agents.testing import AgentTestEnv

ROOT = Path(__file__).resolve().parents[2]
WIRE_APIS = ["responses", "chat", "anthropic"]


@pytest.fixture
def scripted() -> ScriptedModel:
    """An empty scripted model; tests push the answers they need."""
    return ScriptedModel()


@pytest.fixture
def server(scripted: ScriptedModel) -> Iterator[ModelServer]:
    """A running model server answering from ``scripted``."""
    with ModelServer(scripted) as srv:
        yield srv


def make_client(api: str, server: ModelServer, **kwargs: Any) -> ModelClient:
    """A loop model client of the given wire API pointed at ``server``."""
    if api == "responses":
        return OpenAIResponsesClient(base_url=server.base_url, api_key="test-key", timeout=5.0, **kwargs)
    if api == "chat":
        return OpenAIChatClient(base_url=server.base_url, api_key="test-key", timeout=5.0, **kwargs)
    return AnthropicClient("test-key", base_url=server.root_url, timeout=5.0, **kwargs)


@pytest.fixture(params=WIRE_APIS)
async def client(request: pytest.FixtureRequest, server: ModelServer) -> AsyncIterator[ModelClient]:
    """A client of each wire format (the test runs once per format), closed afterwards."""
    made = make_client(str(request.param), server)
    yield made
    await made.aclose()  # type: ignore[attr-defined]  # All three clients have aclose(); the protocol does not.


@pytest.fixture
def loop_env(agent_env: Callable[..., AgentTestEnv]) -> Callable[..., AgentTestEnv]:
    """Factory for environments serving ``tests.loop.apps.loop_app`` on the real engine (stopped afterwards)."""

    def make(*, gate: Path | None = None, api: str = "responses", **kwargs: Any) -> AgentTestEnv:
        # LOOP_ALWAYS_REPLAY=1 runs every engine test with an always-replay engine (hunts non-determinism).
        kwargs.setdefault("always_replay", os.environ.get("LOOP_ALWAYS_REPLAY") == "1")
        env_vars = {"LOOP_API": api}
        if gate is not None:
            env_vars["GATE_DIR"] = str(gate)
        return agent_env("tests.loop.apps.loop_app:app", env=env_vars, pythonpath=[ROOT], **kwargs)

    return make
