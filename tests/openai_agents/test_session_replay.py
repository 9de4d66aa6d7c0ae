"""Session turns under the always-replay engine config: every suspension replays the journal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from resilient_agents.models import Reply, ScriptedModel
from resilient_agents.testing import AgentTestEnv, wait_until

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]


def test_handoff_and_tool_turns_replay_deterministically(
    agent_env: Callable[..., AgentTestEnv], tmp_path: Path
) -> None:
    model = ScriptedModel(
        Reply.call("quick_lookup", topic="bags"),
        Reply.call("transfer_to_faq"),
        Reply.say("One bag is free."),
        Reply.call("quick_lookup", topic="wifi"),
        Reply.say("Wifi is free too."),
    )
    env = agent_env(
        "tests.apps.session_app:app",
        model=model,
        always_replay=True,
        env={"GATE_DIR": str(tmp_path)},
        pythonpath=[ROOT],
    )
    first = env.call("Support/zoe/message", "how many bags?")
    assert first.status_code == 200, first.text
    assert first.json() == "One bag is free."
    second = env.call("Support/zoe/message", "and wifi?")
    assert second.status_code == 200, second.text
    assert second.json() == "Wifi is free too."
    assert env.llm_requests() == 5  # Replays took every model response from the journal.

    history = httpx.post(f"{env.engine.ingress_url}/Support/zoe/history", timeout=10).json()
    assert history["current_agent"] == "FAQ" and history["turns"] == 2
    kinds = [item.get("type", "message") for item in history["items"]]
    assert kinds == [
        "message",  # how many bags?
        "function_call",
        "function_call_output",
        "function_call",  # transfer_to_faq
        "function_call_output",
        "message",  # One bag is free.
        "message",  # and wifi?
        "function_call",
        "function_call_output",
        "message",  # Wifi is free too.
    ]
    steps = [e.name for e in env.journal(second.headers["x-restate-id"]) if e.name.startswith("llm:")]
    assert steps == ["llm: FAQ #1", "llm: FAQ #2"]


def test_history_is_readable_while_a_turn_is_suspended(agent_env: Callable[..., AgentTestEnv], tmp_path: Path) -> None:
    model = ScriptedModel(Reply.call("ask_supervisor", question="upgrade?"), Reply.say("Your upgrade is approved."))
    env = agent_env(
        "tests.apps.session_app:app",
        model=model,
        always_replay=True,
        env={"GATE_DIR": str(tmp_path)},
        pythonpath=[ROOT],
    )
    invocation = env.send("Support/yan/message", "can I upgrade to business?")
    wait_until(lambda: env.invocation_status(invocation) == "suspended", what="the turn to suspend")

    ingress = env.engine.ingress_url
    during = httpx.post(f"{ingress}/Support/yan/history", timeout=10).json()
    assert during["turn_running"] is True
    assert during["items"] == [{"role": "user", "content": "can I upgrade to business?"}]
    assert [i["name"] for i in during["pending_items"]] == ["ask_supervisor"]

    awakeable_id = (tmp_path / "awakeable").read_text()
    resolved = httpx.post(f"{ingress}/restate/awakeables/{awakeable_id}/resolve", json="yes", timeout=10)
    assert resolved.status_code in (200, 202), resolved.text
    assert env.attach(invocation).json() == "Your upgrade is approved."
    after = httpx.post(f"{ingress}/Support/yan/history", timeout=10).json()
    assert [i["output"] for i in after["items"] if i.get("type") == "function_call_output"] == ["supervisor says: yes"]
    assert (after["turn_running"], after["pending_items"], after["turns"]) == (False, [], 1)
    assert env.llm_requests() == 2
