"""A 500-turn conversation with a ``session_object`` (Agents SDK path) on the real engine, scripted model.

Each turn writes what it adds (the turn's own chunk of items and a small head record), so the bytes written at
turn 500 stay within 1.5x of turn 10; the model sees at most the session's history limit, cut so that no tool
output goes without its call; and the ``history`` handler and ``sessions show`` still give all 500 turns.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from resilient_agents._chunked_state import item_chars
from resilient_agents.cli._sessions import sessions_show
from resilient_agents.testing import AgentTestEnv
from tests.apps.long_conversation_app import LIMIT
from tests.long_conversation import answer, check_pairs, question, request_chars, run_turns

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
TURNS = 500


def _history_key(key: str) -> bool:
    return key == "agents_session" or key.startswith("agents_session:items:")


def test_500_turns_write_constant_bytes_send_bounded_input_and_keep_every_turn(
    agent_env: Callable[..., AgentTestEnv], capsys: pytest.CaptureFixture[str]
) -> None:
    env = agent_env("tests.apps.long_conversation_app:app", pythonpath=[ROOT])
    turns = run_turns(env, "Chat/long/message", TURNS, {1, 10, 20, 100, 250, TURNS})

    # Bytes written per turn: the conversation's keys (head and this turn's chunk) do not grow with its length.
    with capsys.disabled():
        for n, turn in sorted(turns.items()):
            print(f"\nSDK path turn {n}: {turn.writes}")
    assert turns[TURNS].bytes(_history_key) <= 1.5 * turns[10].bytes(_history_key), (
        turns[10].writes,
        turns[TURNS].writes,
    )
    written = {"agents_session", f"agents_session:items:{TURNS - 1}", "usage", f"usage:turn:{TURNS}"}
    assert set(turns[TURNS].writes) <= written
    # Everything the turn writes (conversation, usage totals, the turn's usage entry) is constant in the length.
    assert turns[TURNS].bytes() <= 1.5 * turns[10].bytes(), (turns[10].writes, turns[TURNS].writes)

    # The model input at turn 500: within the limit, whole turns, every tool output with its call.
    [request] = turns[TURNS].requests
    items: list[dict[str, Any]] = request["input"]
    stored = items[:-1]  # The history the session sent; the last item is this turn's message.
    assert items[-1]["content"] == question(TURNS)
    assert LIMIT.max_items is not None and LIMIT.max_chars is not None
    assert len(stored) <= LIMIT.max_items
    assert sum(item_chars(item) for item in stored) <= LIMIT.max_chars
    assert stored[0].get("role") == "user", stored[0]
    check_pairs(items)
    assert any(item.get("type") == "function_call_output" for item in stored)  # Pairs were kept, not dropped.
    assert request_chars(request) <= 1.5 * request_chars(turns[20].requests[0])  # About as much as at turn 20.

    # The whole conversation stays readable: the history handler and sessions show give all 500 turns.
    response = httpx.post(f"{env.engine.ingress_url}/Chat/long/history", timeout=60)
    assert response.status_code == 200, response.text
    history = response.json()
    assert history["turns"] == TURNS
    users = [item["content"] for item in history["items"] if item.get("role") == "user"]
    assert users == [question(n) for n in range(1, TURNS + 1)]
    check_pairs(history["items"])

    capsys.readouterr()
    assert sessions_show(env.engine.ingress_url, "Chat", "long", as_json=False) == 0
    out = capsys.readouterr().out
    shown = [line for line in out.splitlines() if line.startswith("user: ")]
    assert shown == [f"user: {question(n)}" for n in range(1, TURNS + 1)]
    assert f"assistant: {answer(TURNS)}" in out.splitlines()
    assert json.loads(json.dumps(history))["items"][-1]["content"][0]["text"] == answer(TURNS)
