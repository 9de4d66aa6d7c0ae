"""One trace from the ingress to the model calls and the tool (issue 10, acceptance 1, 2 and 5)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from resilient_agents.models import Fault, Reply
from resilient_agents.testing import AgentTestEnv, wait_until

from ..integration.conftest import answer_from_tool_output, count
from .conftest import SERVICE_NAME, assert_no_content, ours, spans_named, wait_for_spans
from .receiver import ReceivedSpan, TraceReceiver

pytestmark = pytest.mark.engine
QUESTION = "What is the weather in Detroit?"


def _engine(spans: list[ReceivedSpan], name: str, invocation: str) -> list[ReceivedSpan]:
    return [
        s
        for s in spans
        if s.service != SERVICE_NAME
        and s.name.startswith(name)
        and s.attributes.get("restate.invocation.id") == invocation
    ]


def test_one_weather_turn_is_one_trace(traced_env: Callable[..., AgentTestEnv], receiver: TraceReceiver) -> None:
    env = traced_env("examples.weather.agent:app", env={"WEATHER_API_DELAY": "0"})
    env.scripted.push(Reply.call("get_weather", city="Detroit"), answer_from_tool_output)

    invocation = env.send("Agent/run", QUESTION)
    answer = env.attach(invocation)
    assert answer.status_code == 200, answer.text

    spans = wait_for_spans(
        receiver,
        lambda all_: (
            bool(_engine(all_, "invocation-end", invocation)) and any(s.name.startswith("invoke_agent") for s in all_)
        ),
        "the engine's and the service's spans",
    )
    turn = next(s for s in ours(receiver) if s.name == "invoke_agent WeatherAgent")
    models = sorted(spans_named(receiver, "chat "), key=lambda s: s.start_ns)
    tools = spans_named(receiver, "execute_tool get_weather")
    assert len(models) == 2 and len(tools) == 1

    # One trace: ingress -> invocation-start -> invocation-attempt -> turn -> model calls and tool.
    ingress = _engine(spans, "ingress", invocation)[0]
    attempt = next(s for s in _engine(spans, "invocation-attempt", invocation) if s.span_id == turn.parent_id)
    assert {s.trace_id for s in [ingress, attempt, turn, *models, *tools]} == {ingress.trace_id}
    assert [s.parent_id for s in [*models, *tools]] == [turn.span_id] * 3
    start = next(s for s in spans if s.span_id == attempt.parent_id)
    assert start.name.startswith("invocation-start") and start.parent_id == ingress.span_id

    # Token counts from the model server's usage, and the GenAI/OpenInference attributes.
    served = [r.body for r in env.model_server.requests]
    assert len(served) == 2
    for span in models:
        assert span.attributes["gen_ai.operation.name"] == "chat"
        assert span.attributes["openinference.span.kind"] == "LLM"
        assert span.attributes["gen_ai.request.model"] == "scripted"
        assert span.attributes["server.address"] == "127.0.0.1"
        assert span.attributes["gen_ai.usage.input_tokens"] > 0
        assert span.attributes["gen_ai.usage.output_tokens"] > 0
        assert span.attributes["resilient_agents.attempt"] == 1
    assert [m.attributes["resilient_agents.step"] for m in models] == ["llm: WeatherAgent #1", "llm: WeatherAgent #2"]
    assert models[0].attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert models[1].attributes["gen_ai.response.finish_reasons"] == ["stop"]
    tool = tools[0]
    assert tool.attributes["openinference.span.kind"] == "TOOL"
    assert tool.attributes["resilient_agents.tool.batched"] is False
    assert models[0].end_ns <= tool.start_ns and tool.end_ns <= models[1].start_ns
    assert turn.attributes["openinference.span.kind"] == "AGENT"
    assert turn.attributes["resilient_agents.outcome"] == "completed"
    assert turn.attributes["resilient_agents.invocation_id"] == invocation

    # Acceptance 5: the content setting is off, so no prompt or output text, and never the key.
    answer_text = answer.json()
    assert_no_content(spans, [QUESTION, "Detroit", answer_text, "helpful agent"])


def test_content_is_recorded_when_opted_in(traced_env: Callable[..., AgentTestEnv], receiver: TraceReceiver) -> None:
    env = traced_env(
        "examples.weather.agent:app", env={"WEATHER_API_DELAY": "0", "RESILIENT_AGENTS_TRACE_CONTENT": "1"}
    )
    env.scripted.push(Reply.call("get_weather", city="Detroit"), answer_from_tool_output)
    assert env.call("Agent/run", QUESTION).status_code == 200
    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "invoke_agent")) == 1, "the turn span")
    first = next(s for s in spans_named(receiver, "chat ") if s.attributes["resilient_agents.step"].endswith("#1"))
    assert QUESTION in first.attributes["input.value"]
    assert "get_weather" in first.attributes["output.value"]
    tool = spans_named(receiver, "execute_tool")[0]
    assert "Detroit" in tool.attributes["input.value"] and "22" in tool.attributes["output.value"]
    assert_no_content(ours(receiver), [])  # Still never the key.


def test_kill_during_tool_gives_one_span_per_model_call(
    traced_env: Callable[..., AgentTestEnv], receiver: TraceReceiver, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    env = traced_env("tests.apps.gated_weather:app", env={"GATE_DIR": str(gate)})
    env.scripted.push(Reply.call("get_weather", city="Detroit"), answer_from_tool_output)

    invocation = env.send("Agent/run", QUESTION)
    wait_until(lambda: count(gate, "started-") == 1, what="the tool to start")
    # The first model call's span is exported before the crash (the batch processor's delay is 100 ms).
    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "chat ")) == 1, "the first model call's span")
    env.kill_service()
    env.restart_service()
    wait_until(lambda: count(gate, "started-") == 2, what="the tool to run again after the restart")
    (gate / "release").touch()
    assert env.attach(invocation).status_code == 200

    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "invoke_agent")) == 1, "the turn span")
    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "chat ")) >= 2, "the second model call's span")
    models = spans_named(receiver, "chat ")
    steps = sorted(m.attributes["resilient_agents.step"] for m in models)
    assert steps == ["llm: WeatherAgent #1", "llm: WeatherAgent #2"]  # Exactly one span per model call.
    tools = spans_named(receiver, "execute_tool")
    assert len(tools) == 1  # The resumed tool; the killed attempt's tool span never ended.
    turn = spans_named(receiver, "invoke_agent")[0]
    # The first model call ran in the killed attempt; its parent is still this turn (span id from the invocation).
    assert {s.parent_id for s in [*models, *tools]} == {turn.span_id}
    assert {s.trace_id for s in [turn, *models, *tools]} == {turn.trace_id}
    assert models[0].start_ns < tools[0].start_ns


def test_always_replay_emits_each_span_once(traced_env: Callable[..., AgentTestEnv], receiver: TraceReceiver) -> None:
    # Every suspension point replays the journal in a new attempt: still one span per step and one turn.
    env = traced_env("examples.weather.agent:app", env={"WEATHER_API_DELAY": "0"}, always_replay=True)
    env.scripted.push(Reply.call("get_weather", city="Detroit"), answer_from_tool_output)
    invocation = env.send("Agent/run", QUESTION)
    assert env.attach(invocation).status_code == 200
    spans = wait_for_spans(
        receiver,
        lambda all_: bool(_engine(all_, "invocation-end", invocation)) and bool(spans_named(receiver, "invoke_agent")),
        "the engine's and the service's spans",
    )
    attempts = _engine(spans, "invocation-attempt", invocation)
    turns = spans_named(receiver, "invoke_agent")
    models = spans_named(receiver, "chat ")
    tools = spans_named(receiver, "execute_tool")
    assert len(turns) == 1 and len(models) == 2 and len(tools) == 1
    assert len(attempts) > 1  # The engine did replay.
    assert {s.parent_id for s in [*models, *tools]} == {turns[0].span_id}
    assert turns[0].parent_id in {a.span_id for a in attempts}


def test_a_failed_model_attempt_has_its_own_error_span(
    traced_env: Callable[..., AgentTestEnv], receiver: TraceReceiver
) -> None:
    env = traced_env("examples.weather.agent:app", env={"WEATHER_API_DELAY": "0"})
    env.scripted.push(Fault.server_error(503), Reply.call("get_weather", city="Detroit"), answer_from_tool_output)
    assert env.call("Agent/run", QUESTION).status_code == 200
    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "invoke_agent")) == 1, "the turn span")
    first = sorted(
        (s for s in spans_named(receiver, "chat ") if s.attributes["resilient_agents.step"] == "llm: WeatherAgent #1"),
        key=lambda s: s.attributes["resilient_agents.attempt"],
    )
    assert [s.attributes["resilient_agents.attempt"] for s in first] == [1, 2]
    assert first[0].status == "STATUS_CODE_ERROR" and first[0].attributes["resilient_agents.outcome"] == "failed"
    assert "gen_ai.usage.input_tokens" not in first[0].attributes
    assert first[1].status != "STATUS_CODE_ERROR" and first[1].attributes["gen_ai.usage.input_tokens"] > 0


@pytest.mark.parametrize("always_replay", [False, True], ids=["live", "always-replay"])
def test_a_durable_sleep_has_a_span(
    traced_env: Callable[..., AgentTestEnv], receiver: TraceReceiver, always_replay: bool
) -> None:
    # Always-replay: the sleep suspends the invocation and a later attempt wakes up; still one span.
    env = traced_env("tests.tracing.sleep_app:app", always_replay=always_replay)
    env.scripted.push(Reply.call("nap", seconds=0.2), Reply.say("Rested."))
    assert env.call("Sleeper/run", "take a nap").status_code == 200
    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "invoke_agent")) == 1, "the turn span")
    [tool] = spans_named(receiver, "execute_tool nap")
    [sleep] = spans_named(receiver, "sleep nap")
    assert sleep.parent_id == tool.span_id and tool.parent_id == spans_named(receiver, "invoke_agent")[0].span_id
    assert sleep.attributes["resilient_agents.sleep.seconds"] == 0.2
