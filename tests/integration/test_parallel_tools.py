"""Parallel durable tool calls in the SDK path: concurrent, replay-safe, crash-safe, context merged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from resilient_agents.models import ParsedRequest, Reply, ToolCall
from resilient_agents.testing import AgentTestEnv, wait_until

from .conftest import app_env_factory, count

pytestmark = pytest.mark.engine


@pytest.fixture
def parallel_env(agent_env: Callable[..., AgentTestEnv], gate: Path) -> Callable[..., AgentTestEnv]:
    return app_env_factory(agent_env, "tests.apps.parallel_tools:app", gate)


def _tool_outputs(request: ParsedRequest) -> Reply:
    outputs = request.trailing_tool_outputs()
    return Reply.say(" | ".join(m.text for m in outputs))


def _batch(tool: str, n: int) -> Reply:
    return Reply.calls(*(ToolCall(tool, {"index": i}) for i in range(n)))


def test_five_parallel_tools_run_at_the_same_moment(parallel_env: Callable[..., AgentTestEnv]) -> None:
    """Each call waits until all five are inside the tool: only tools that really run concurrently meet."""
    env = parallel_env()
    calls = [ToolCall("rendezvous", {"index": i, "group": "turn-1", "parties": 5}) for i in range(5)]
    env.scripted.push(Reply.calls(*calls), _tool_outputs)
    response = env.call("Parallel/run", "go")
    assert response.status_code == 200, response.text
    assert response.json() == " | ".join(f"call {i}: 5 of 5 running together" for i in range(5))  # In call order.
    steps = [e.name for e in env.journal(response.headers["x-restate-id"]) if e.entry_type.startswith("Command")]
    # Each call is one journaled step of the turn (no extra invocations), named uniquely.
    assert sorted(n for n in steps if n.startswith("tool: ")) == sorted(
        ["tool: rendezvous", *(f"tool: rendezvous #{i}" for i in range(2, 6))]
    ), steps
    assert env.query("SELECT id FROM sys_invocation WHERE target_service_name = 'DurableTools'") == []


def test_parallel_multi_step_tools_replay_deterministically(parallel_env: Callable[..., AgentTestEnv]) -> None:
    env = parallel_env(always_replay=True)
    for run in range(20):
        env.scripted.push(_batch("multi_step", 5), _tool_outputs)
        response = env.call("Multi/run", f"run {run}")
        assert response.status_code == 200, f"run {run}: {response.text}"
        answer = response.json()
        for i in range(5):
            assert f"multi {i}: {2 * i}" in answer
    failed = env.query("SELECT id, status, last_failure FROM sys_invocation WHERE last_failure IS NOT NULL")
    assert failed == []  # No non-determinism (journal mismatch) error, nor any other failure, in any invocation.
    log = (env.base_dir / "service.log").read_text()
    assert "mismatch" not in log.lower()


def test_kill_during_the_second_of_two_parallel_tools(parallel_env: Callable[..., AgentTestEnv], gate: Path) -> None:
    env = parallel_env()
    env.scripted.push(Reply.calls(ToolCall("quick", {"index": 0}), ToolCall("gated", {"index": 1})), _tool_outputs)
    invocation = env.send("Gated/run", "go")
    wait_until(lambda: count(gate, "gated-started-") == 1 and count(gate, "quick-") == 1, what="both tools to start")
    env.kill_service()
    env.restart_service()
    wait_until(lambda: count(gate, "gated-started-") == 2, what="the gated tool to run again")
    (gate / "release").touch()
    response = env.attach(invocation)
    assert response.status_code == 200, response.text
    assert "quick 0" in response.json() and "gated 1" in response.json()
    assert env.llm_requests() == 2  # No model request repeated.
    assert count(gate, "quick-") == 1  # The tool that had completed did not run again.
    assert count(gate, "gated-finished-") == 1


def test_parallel_tools_merge_their_context_changes(parallel_env: Callable[..., AgentTestEnv]) -> None:
    env = parallel_env()
    env.scripted.push(
        Reply.calls(ToolCall("set_seat", {"seat": "10B"}), ToolCall("set_meal", {"meal": "vegan"})),
        _tool_outputs,
    )
    response = env.call("Context/run", "seat 10B and a vegan meal")
    assert response.status_code == 200, response.text
    assert response.json() == {"seat": "10B", "meal": "vegan", "untouched": "keep"}
    steps = [e.name for e in env.journal(response.headers["x-restate-id"])]
    assert "llm: Booker #1" in steps and "llm: Booker #2" in steps
