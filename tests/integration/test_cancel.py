"""Cancelling an invocation through the admin API while a tool runs ends it cancelled (issue 7, item 4).

The SDK turns any exception of a tool into a message for the model; Restate's cancellation must not be
swallowed that way: no model call may follow it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from resilient_agents.models import Reply, ScriptedModel, ToolCall
from resilient_agents.testing import AgentTestEnv, wait_until

from .conftest import app_env_factory

pytestmark = pytest.mark.engine


def _cancel(env: AgentTestEnv, invocation: str) -> None:
    response = httpx.patch(f"{env.engine.admin_url}/invocations/{invocation}/cancel", timeout=30)
    assert response.status_code < 300, response.text


def test_cancel_during_a_lone_durable_tool_ends_the_turn_cancelled(
    agent_env: Callable[..., AgentTestEnv], gate: Path
) -> None:
    model = ScriptedModel(Reply.call("slow_lookup", topic="fares"))  # A second request would be counted.
    env = app_env_factory(agent_env, "tests.apps.session_app:app", gate)(model=model)
    invocation = env.send("Support/bob/message", "Look up fares")
    wait_until(lambda: any(p.name.startswith("started-fares") for p in gate.iterdir()), what="the tool to start")
    _cancel(env, invocation)

    result = env.attach(invocation, timeout=120)
    assert result.status_code == 409, result.text
    assert "cancel" in result.text.lower()
    assert env.llm_requests() == 1  # No model call after the cancellation.
    # The session still answers the next message.
    model.push(Reply.say("Hello again."))
    assert env.call("Support/bob/message", "hi").json() == "Hello again."


def test_cancel_during_a_batch_of_parallel_durable_tools_ends_the_turn_cancelled(
    agent_env: Callable[..., AgentTestEnv], gate: Path
) -> None:
    batch = Reply.calls(ToolCall("slow_lookup", {"topic": "fares"}), ToolCall("slow_lookup", {"topic": "meals"}))
    model = ScriptedModel(batch)  # A second request would be counted.
    env = app_env_factory(agent_env, "tests.apps.session_app:app", gate)(model=model)
    invocation = env.send("Support/ann/message", "Look up fares and meals")
    wait_until(
        lambda: {p.name.split("-")[1] for p in gate.iterdir() if p.name.startswith("started-")} == {"fares", "meals"},
        what="both tools to start",
    )
    _cancel(env, invocation)

    result = env.attach(invocation, timeout=120)
    assert result.status_code == 409, result.text
    assert env.llm_requests() == 1
    names = {entry.name for entry in env.journal(invocation)}
    assert {"tool: slow_lookup", "tool: slow_lookup #2"} <= names, names  # Both calls were steps of the turn.
