"""A lone durable tool's change to the run context survives a kill -9 after its step (issue 7, item 3)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from resilient_agents.models import ParsedRequest, Reply, ScriptedModel
from resilient_agents.testing import AgentTestEnv, wait_until

from .conftest import app_env_factory, count

pytestmark = pytest.mark.engine


def test_kill_after_a_context_changing_step_keeps_the_change(
    agent_env: Callable[..., AgentTestEnv], gate: Path
) -> None:
    held = threading.Event()
    release = threading.Event()

    def answer_after_release(request: ParsedRequest) -> Reply:
        held.set()
        release.wait(timeout=120)  # The model call in flight when the service dies.
        return Reply.say("Your seat is 10B.")

    model = ScriptedModel(
        Reply.call("assign_seat", seat="10B"),
        answer_after_release,
        lambda request: Reply.say(f"Your seat is 10B ({request.trailing_tool_outputs()[-1].text})."),
    )
    env = app_env_factory(agent_env, "tests.apps.context_app:app", gate)(model=model)
    invocation = env.send("Seats/ana/message", "Give me seat 10B")
    wait_until(held.is_set, timeout=60, what="the model call after the tool step")
    # Saved with the turn's progress, not only at its end: the stored context already has the seat.
    during = env.call("Seats/ana/history").json()
    assert during["context"] == {"customer": "ana", "seat": "10B"}, during
    env.kill_service()
    release.set()
    env.restart_service()

    response = env.attach(invocation, timeout=120)
    assert response.status_code == 200, response.text
    assert count(gate, "assigned-10B-") == 1  # The step ran once; the replay took it from the journal.
    history = env.call("Seats/ana/history").json()
    assert history["context"] == {"customer": "ana", "seat": "10B"}, history
    assert any("seat 10B assigned to ana" in str(item) for item in history["items"]), history
