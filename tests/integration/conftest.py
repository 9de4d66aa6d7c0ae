"""Fixtures for tests on the real engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from resilient_agents.models import ParsedRequest, Reply
from resilient_agents.testing import AgentTestEnv

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gate(tmp_path: Path) -> Path:
    """Directory through which the gated weather tool reports starts/finishes and waits for release."""
    directory = tmp_path / "gate"
    directory.mkdir()
    return directory


@pytest.fixture
def weather_env(agent_env: Callable[..., AgentTestEnv], gate: Path) -> Callable[..., AgentTestEnv]:
    """Factory for an environment serving ``tests.apps.gated_weather`` (stopped after the test)."""
    return app_env_factory(agent_env, "tests.apps.gated_weather:app", gate)


def app_env_factory(agent_env: Callable[..., AgentTestEnv], app: str, gate: Path) -> Callable[..., AgentTestEnv]:
    """``agent_env`` for ``app`` from this repository, with the gate directory in the service's environment."""

    def make(**kwargs: Any) -> AgentTestEnv:
        return agent_env(app, env={"GATE_DIR": str(gate)}, pythonpath=[ROOT], **kwargs)

    return make


def answer_from_tool_output(request: ParsedRequest) -> Reply:
    """A scripted reply that proves the tool's output reached the model: it quotes it."""
    outputs = request.trailing_tool_outputs()
    assert outputs, "expected the request to end with the tool's output"
    return Reply.say(f"Here is what I found: {outputs[-1].text}")


def count(gate: Path, prefix: str) -> int:
    """How many side-effect marker files with ``prefix`` the tool left."""
    return sum(1 for p in gate.iterdir() if p.name.startswith(prefix))
