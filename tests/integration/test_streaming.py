"""Durable streaming (issue 8, item 4): deltas reach a client through the side channel, and a kill -9 during
the second model call neither streams nor asks for the first call again."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from resilient_agents.models import Reply, ScriptedModel, ToolCall
from resilient_agents.streams import follow_stream
from resilient_agents.testing import AgentTestEnv, wait_until

from .conftest import app_env_factory, count

pytestmark = pytest.mark.engine

FIRST = "Let me check the weather in Detroit for you."
SECOND = "It is 22°C and sunny in Detroit right now."
STEP_1, STEP_2 = "llm: StreamAgent #1", "llm: StreamAgent #2"


def first_reply() -> Reply:
    return Reply(text=FIRST, tool_calls=(ToolCall("get_weather", {"city": "Detroit"}),))


def text_by_step(events: list[dict[str, Any]]) -> dict[str, str]:
    """What a client shows: each step's text, where a new ``llm_start`` for a step drops its earlier text."""
    text: dict[str, str] = {}
    for event in events:
        if event["type"] == "llm_start":
            text[event["step"]] = ""
        elif event["type"] == "text_delta":
            text[event["step"]] += event["delta"]
    return text


def start(
    agent_env: Callable[..., AgentTestEnv], gate: Path, model: ScriptedModel, *, always_replay: bool = False
) -> tuple[AgentTestEnv, str]:
    env = app_env_factory(agent_env, "tests.apps.streaming_app:app", gate)(model=model, always_replay=always_replay)
    return env, env.send("Agent/run", "What is the weather in Detroit?")


def follow(env: AgentTestEnv, invocation: str, into: list[dict[str, Any]]) -> threading.Thread:
    assert env.service is not None

    def read() -> None:
        into.extend(follow_stream(env.service.url, invocation, ingress_url=env.engine.ingress_url, timeout=120))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("always_replay", [False, True], ids=["live", "always-replay"])
def test_a_client_receives_the_deltas_of_both_model_calls(
    agent_env: Callable[..., AgentTestEnv], gate: Path, always_replay: bool
) -> None:
    # With always-replay every suspension replays the journal: journaled calls must not stream again.
    model = ScriptedModel(first_reply(), Reply.say(SECOND))
    env, invocation = start(agent_env, gate, model, always_replay=always_replay)
    assert env.service is not None

    events = list(follow_stream(env.service.url, invocation, ingress_url=env.engine.ingress_url, timeout=120))

    assert events[-1] == {"type": "done", "output": SECOND, "seq": len(events)}
    assert text_by_step(events) == {STEP_1: FIRST, STEP_2: SECOND}
    deltas = [e for e in events if e["type"] == "text_delta"]
    assert len(deltas) == len(FIRST.split()) + len(SECOND.split())  # Word by word, as the model sent them.
    assert [e["type"] for e in events if e["type"] != "text_delta"] == [
        "llm_start",
        "llm_end",
        "llm_start",
        "llm_end",
        "done",
    ]
    assert env.attach(invocation).json() == SECOND
    names = [entry.name for entry in env.journal(invocation) if entry.name]
    assert names == [STEP_1, "tool: get_weather", STEP_2]
    assert all(r.body.get("stream") is True for r in env.model_server.requests)


def test_kill_during_the_second_call_streams_only_the_rest(agent_env: Callable[..., AgentTestEnv], gate: Path) -> None:
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        held.set()
        release.wait(timeout=120)  # The second call is streaming when the service dies.

    model = ScriptedModel(first_reply(), Reply(text=SECOND, hold=hold), Reply.say(SECOND))
    env, invocation = start(agent_env, gate, model)
    seen: list[dict[str, Any]] = []
    reader = follow(env, invocation, seen)
    wait_until(held.is_set, timeout=60, what="the second model call to stream its first delta")
    wait_until(
        lambda: any(e["type"] == "text_delta" and e["step"] == STEP_2 for e in seen),
        timeout=60,
        what="the client to receive the second call's first delta",
    )
    before_crash = len(seen)

    env.kill_service()
    release.set()
    env.restart_service()
    reader.join(timeout=120)

    assert not reader.is_alive()
    assert text_by_step(seen[:before_crash]) == {STEP_1: FIRST, STEP_2: SECOND.split()[0] + " "}
    after = seen[before_crash:]
    assert all(e.get("step") != STEP_1 for e in after), after  # The first call was replayed, not streamed.
    assert after[0] == {"type": "llm_start", "step": STEP_2, "attempt": 1, "seq": 1}  # The new process's first.
    assert text_by_step(after) == {STEP_2: SECOND}
    assert after[-1]["type"] == "done" and after[-1]["output"] == SECOND
    assert text_by_step(seen) == {STEP_1: FIRST, STEP_2: SECOND}  # What the client shows in the end.
    assert env.attach(invocation).json() == SECOND
    outputs = [request.trailing_tool_outputs() for request in env.scripted.received]
    assert [bool(o) for o in outputs] == [False, True, True]  # The first call once; the second twice.
    assert count(gate, "weather-") == 1


def test_chat_stream_prints_the_text_as_it_comes(
    agent_env: Callable[..., AgentTestEnv], gate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from resilient_agents.cli import main

    env = app_env_factory(agent_env, "tests.apps.streaming_app:app", gate)(
        model=ScriptedModel(first_reply(), Reply.say(SECOND))
    )
    assert env.service is not None
    args = ["--app", "tests.apps.streaming_app:app", "--ingress", env.engine.ingress_url, "--service", env.service.url,
            "--admin", env.engine.admin_url]  # fmt: skip

    assert main(["chat", "--stream", *args, "What is the weather in Detroit?"]) == 0

    assert capsys.readouterr().out == f"{FIRST}\n{SECOND}\n"
