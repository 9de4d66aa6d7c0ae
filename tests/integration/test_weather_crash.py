"""Crash, retry and replay tests of the SDK integration on the real engine (acceptance 3-6 of issue 2)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from agents import OpenAIProvider, RunConfig, Runner, RunResult

from resilient_agents.config import ModelConfig
from resilient_agents.models import Fault, ModelServer, Reply, ScriptedModel
from resilient_agents.testing import AgentTestEnv, wait_until

from .conftest import answer_from_tool_output, count

pytestmark = pytest.mark.engine
QUESTION = "What is the weather in Detroit?"


def _llm_steps(env: AgentTestEnv, invocation_id: str) -> list[str]:
    return [e.name for e in env.journal(invocation_id) if e.name.startswith(("llm:", "tool:"))]


@pytest.mark.parametrize("service", ["Agent", "ModelAgent"], ids=["provider-model", "model-instance"])
def test_kill_during_tool_resumes_without_repeating_the_llm_call(
    weather_env: Callable[..., AgentTestEnv], gate: Path, service: str
) -> None:
    env = weather_env()
    env.scripted.push(Reply.call("get_weather", city="Detroit"), answer_from_tool_output)

    invocation = env.send(f"{service}/run", QUESTION)
    wait_until(lambda: count(gate, "started-") == 1, what="the tool to start")
    assert env.llm_requests() == 1  # The first model call is done and journaled.

    env.kill_service()
    env.restart_service()
    wait_until(lambda: count(gate, "started-") == 2, what="the tool to run again after the restart")
    (gate / "release").touch()

    response = env.attach(invocation)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "Detroit" in answer and "22" in answer
    assert env.llm_requests() == 2  # Exactly 2 model requests for the turn: none repeated.
    assert count(gate, "finished-") == 1  # The tool's effect completed once.
    steps = _llm_steps(env, invocation)
    assert steps.count("llm: WeatherAgent #1") == 1
    assert steps.count("llm: WeatherAgent #2") == 1
    assert "tool: get_weather" in steps


def test_second_request_is_identical_with_and_without_durability(
    weather_env: Callable[..., AgentTestEnv], gate: Path
) -> None:
    # Durable, with a crash and a replay between the two model calls.
    env = weather_env()
    env.scripted.push(Reply.call("get_weather", city="Detroit"), answer_from_tool_output)
    invocation = env.send("Agent/run", QUESTION)
    wait_until(lambda: count(gate, "started-") == 1, what="the tool to start")
    env.kill_service()
    env.restart_service()
    (gate / "release").touch()
    assert env.attach(invocation).status_code == 200
    durable_second = env.model_server.requests[1].body

    # Plain Agents SDK, same agent definition, same scripted replies, fresh server (same deterministic ids).
    with ModelServer(ScriptedModel(Reply.call("get_weather", city="Detroit"), answer_from_tool_output)) as srv:
        result, plain_second = asyncio.run(_plain_run(srv, gate))
    assert "Detroit" in str(result.final_output)
    assert durable_second == plain_second


async def _plain_run(srv: ModelServer, gate: Path) -> tuple[RunResult, dict[str, Any]]:
    from tests.apps.gated_weather import provider_agent

    config = ModelConfig.from_env(
        {
            "OPENAI_API_KEY": "k",
            "OPENAI_BASE_URL": srv.base_url,
            "RESILIENT_AGENTS_API": "responses",
            "RESILIENT_AGENTS_MODEL": "scripted",
        }
    )
    client = config.client()
    run_config = RunConfig(
        model="scripted", model_provider=OpenAIProvider(openai_client=client, use_responses=True), tracing_disabled=True
    )
    os.environ["GATE_DIR"] = str(gate)  # The tool is released already; it only needs to find the gate.
    try:
        result = await Runner.run(provider_agent, QUESTION, run_config=run_config)
    finally:
        await client.close()
    return result, srv.requests[1].body


def test_rate_limit_then_server_error_is_retried_and_journaled_once(
    weather_env: Callable[..., AgentTestEnv], gate: Path
) -> None:
    env = weather_env()
    (gate / "release").touch()
    env.scripted.push(
        Fault.rate_limit(retry_after=1.0),
        Fault.server_error(500),
        Reply.call("get_weather", city="Detroit"),
        answer_from_tool_output,
    )
    response = env.call("Agent/run", QUESTION)
    assert response.status_code == 200, response.text
    assert "Detroit" in response.json()
    assert env.llm_requests() == 4  # 429, 500, then the two successful calls.
    invocation = response.headers["x-restate-id"]
    steps = _llm_steps(env, invocation)
    assert steps.count("llm: WeatherAgent #1") == 1, steps
    assert steps.count("llm: WeatherAgent #2") == 1, steps


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "mpty"),  # Rejected by the engine's ingress itself: "Empty body not allowed".
        (b"not json", "not valid JSON"),
        (b"42", "got a JSON number"),
        (json.dumps("x" * 40_000).encode(), "maximum is 32000"),
    ],
    ids=["empty", "not-json", "number", "too-long"],
)
def test_bad_input_fails_terminally_and_the_service_keeps_answering(
    weather_env: Callable[..., AgentTestEnv], gate: Path, body: bytes, expected: str
) -> None:
    env = weather_env()
    (gate / "release").touch()
    bad = env.call("Agent/run", raw=body, timeout=20)
    assert bad.status_code == 400, bad.text
    assert expected in bad.json()["message"]
    assert env.llm_requests() == 0

    env.scripted.push(Reply.call("get_weather", city="Detroit"), answer_from_tool_output)
    good = env.call("Agent/run", QUESTION)
    assert good.status_code == 200 and "Detroit" in good.json()
