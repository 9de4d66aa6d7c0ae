"""Token usage per turn and per session of a ``session_object`` (Agents SDK path), on the real engine.

The scripted model server reports known token counts; the session keeps them under the state key ``usage``,
the ``history`` handler answers them and ``sessions show`` prints them. A replay (always-replay engine, or a
``kill -9`` while a tool runs) must not count a journaled response twice.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from resilient_agents.cli._sessions import sessions_show
from resilient_agents.models import Reply
from resilient_agents.testing import AgentTestEnv, wait_until

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
PRICES = json.dumps({"scripted": {"input": 1.0, "output": 2.0}})


def _costing(reply: Reply, input_tokens: int, output_tokens: int) -> Reply:
    return dataclasses.replace(reply, input_tokens=input_tokens, output_tokens=output_tokens)


def _history(env: AgentTestEnv, key: str) -> dict[str, Any]:
    response = httpx.post(f"{env.engine.ingress_url}/Support/{key}/history", timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _state(env: AgentTestEnv, key: str, state_key: str) -> Any:
    rows = env.query(
        f"SELECT value_utf8 FROM state WHERE service_name = 'Support' AND service_key = '{key}' AND key = '{state_key}'"
    )
    assert len(rows) == 1, rows
    return json.loads(rows[0]["value_utf8"])


def test_two_turns_keep_tokens_per_turn_and_in_total(
    agent_env: Callable[..., AgentTestEnv], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = agent_env(
        "tests.apps.session_app:app",
        always_replay=True,  # Every suspension replays the journal: replayed responses must not count twice.
        env={"GATE_DIR": str(tmp_path), "RESILIENT_AGENTS_PRICES": PRICES},
        pythonpath=[ROOT],
    )
    env.scripted.push(
        _costing(Reply.call("quick_lookup", topic="bags"), 100, 10),
        _costing(Reply.say("One bag is free."), 150, 20),
        _costing(Reply.say("Wifi is free too."), 200, 5),
    )
    assert env.call("Support/ann/message", "how many bags?").json() == "One bag is free."
    assert env.call("Support/ann/message", "and wifi?").json() == "Wifi is free too."
    assert env.llm_requests() == 3

    history = _history(env, "ann")
    assert history["turns"] == 2 and history["current_agent"] == "Triage"  # The existing fields stay.
    assert len(history["items"]) == 6
    usage = history["usage"]
    assert usage["turns"] == [
        {"turn": 1, "model": "scripted", "requests": 2, "input_tokens": 250, "output_tokens": 30, "cost_usd": 0.00031},
        {"turn": 2, "model": "scripted", "requests": 1, "input_tokens": 200, "output_tokens": 5, "cost_usd": 0.00021},
    ]
    assert usage["total"] == {
        "requests": 3,
        "input_tokens": 450,
        "output_tokens": 35,
        "cost_usd": pytest.approx(0.00052),
    }

    # A small record of its own, not part of the conversation's record.
    assert _state(env, "ann", "usage")["last_turn"] == 2
    assert "usage" not in _state(env, "ann", "agents_session")

    capsys.readouterr()
    assert sessions_show(env.engine.ingress_url, "Support", "ann", as_json=False) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines()]
    assert ["TURN", "MODEL", "REQUESTS", "INPUT", "OUTPUT", "COST"] in lines, out
    assert ["1", "scripted", "2", "250", "30", "$0.000310"] in lines, out
    assert ["2", "scripted", "1", "200", "5", "$0.000210"] in lines, out
    assert ["total", "3", "450", "35", "$0.000520"] in lines, out


def test_kill_during_a_tool_counts_the_journaled_response_once(
    agent_env: Callable[..., AgentTestEnv], tmp_path: Path
) -> None:
    env = agent_env("tests.apps.session_app:app", env={"GATE_DIR": str(tmp_path)}, pythonpath=[ROOT])
    env.scripted.push(
        _costing(Reply.call("slow_lookup", topic="gus"), 100, 10),
        _costing(Reply.say("Found it after the crash."), 120, 12),
    )
    invocation = env.send("Support/gus/message", "look in the archive")
    wait_until(lambda: len(list(tmp_path.glob("started-gus-*"))) == 1, what="the slow tool to start")
    env.kill_service()
    env.restart_service()
    wait_until(lambda: len(list(tmp_path.glob("started-gus-*"))) == 2, what="the tool to run again after the restart")
    (tmp_path / "release-gus").touch()
    assert env.attach(invocation).json() == "Found it after the crash."

    assert env.llm_requests() == 2  # The first response came from the journal after the restart.
    usage = _history(env, "gus")["usage"]
    assert usage["turns"] == [{"turn": 1, "model": "scripted", "requests": 2, "input_tokens": 220, "output_tokens": 22}]
    assert usage["total"] == {"requests": 2, "input_tokens": 220, "output_tokens": 22}  # No price table: no cost.
