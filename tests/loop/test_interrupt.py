"""Interruptible sessions on the real engine: a new message cancels the running turn; nothing is lost."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from resilient_agents.loop._phases._interrupt import INTERRUPTED_OUTPUT
from resilient_agents.models import ParsedRequest, Reply
from resilient_agents.testing import AgentTestEnv, wait_until

from .test_loop_engine import count, history

pytestmark = pytest.mark.engine


@pytest.fixture
def gate(tmp_path: Path) -> Path:
    """The directory through which the gated tool reports and waits."""
    directory = tmp_path / "gate"
    directory.mkdir()
    return directory


def answer_both(request: ParsedRequest) -> Reply:
    """The second turn's model: it sees both messages and the interrupted tool call, and answers both."""
    users = [m.text for m in request.messages if m.role == "user"]
    tools = [m.text for m in request.messages if m.role == "tool"]
    return Reply.say(f"answering {users} after {tools}")


def test_a_new_message_interrupts_the_running_turn(loop_env: Callable[..., AgentTestEnv], gate: Path) -> None:
    # Not in always-replay mode: there the engine closes the attempt's input while it waits, so the
    # cancellation only arrives after the slow tool finished, and this test's tool never does.
    env = loop_env(gate=gate, always_replay=False)
    env.scripted.push(Reply.call("gated_lookup", item="stock"), answer_both)
    first = env.send("Session/kim/message", "How many widgets are in stock?")
    wait_until(lambda: count(gate, "started-") == 1, what="turn 1 to wait in the slow tool")

    response = env.call("Session/kim/interrupt", "Never mind, what is my balance?")

    assert response.status_code == 200, response.text
    interrupted = env.attach(first)
    assert interrupted.status_code == 200, interrupted.text
    assert interrupted.json().startswith("Interrupted:")
    # The journal of turn 1 shows the cancellation signal, then the named "interrupted" step.
    entries = [(e.entry_type, e.name) for e in env.journal(first)]
    signal = entries.index(("Notification: Signal", ""))
    assert ("Command: Run", "interrupted") in entries[signal:]
    assert [name for _, name in entries[:signal] if name] == ["llm: concierge #1", "tool: gated_lookup"]
    interrupter = response.headers["x-restate-id"]
    assert any("Signal" in e.entry_type or "Cancel" in e.entry_type for e in env.journal(interrupter))
    answer = response.json()
    assert "How many widgets are in stock?" in answer and "what is my balance?" in answer
    assert INTERRUPTED_OUTPUT in answer
    snapshot = history(env, "Session", "kim")
    users = [m["text"] for m in snapshot["history"] if m["role"] == "user"]
    assert users == ["How many widgets are in stock?", "Never mind, what is my balance?"]
    assert [m["role"] for m in snapshot["history"]] == ["user", "assistant", "tool", "user", "assistant"]
    assert snapshot["history"][2]["text"] == INTERRUPTED_OUTPUT
    assert snapshot["turn_running"] is False
    assert count(gate, "finished-") == 0  # The slow tool was abandoned, not finished behind our back.
    assert env.llm_requests() == 2


def test_interrupt_without_a_running_turn_is_a_plain_message(loop_env: Callable[..., AgentTestEnv]) -> None:
    env = loop_env()
    env.scripted.push(Reply.say("Hello!"))
    response = env.call("Session/lena/interrupt", "Hi")
    assert response.status_code == 200, response.text
    assert response.json() == "Hello!"
    assert [m["role"] for m in history(env, "Session", "lena")["history"]] == ["user", "assistant"]
