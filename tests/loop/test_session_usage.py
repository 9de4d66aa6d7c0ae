"""Token usage per turn and per session of a ``loop_session_object`` (native loop), on the real engine.

The bank example's session, with the scripted model server reporting known token counts. A service killed
(``kill -9``) while the model answers is retried: the model server sees that request twice, but only the
journaled response counts.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from resilient_agents.cli._sessions import sessions_show
from resilient_agents.loop import ChatMessage, ModelClient
from resilient_agents.loop._settings import LoopModelSettings
from resilient_agents.models import ParsedRequest, Reply, ScriptedModel
from resilient_agents.testing import AgentTestEnv, wait_until

ROOT = Path(__file__).resolve().parents[2]
BANK = "examples.bank.agent:app"


def _costing(reply: Reply, input_tokens: int, output_tokens: int) -> Reply:
    return dataclasses.replace(reply, input_tokens=input_tokens, output_tokens=output_tokens)


async def test_each_wire_api_reports_the_servers_token_counts(client: ModelClient, scripted: ScriptedModel) -> None:
    scripted.push(_costing(Reply.say("Hi."), 1234, 56))
    turn = await client.complete("Be nice.", [ChatMessage(role="user", text="Hi")], [], LoopModelSettings(model="m"))
    assert (turn.model, turn.input_tokens, turn.output_tokens) == ("m", 1234, 56)


def _history(env: AgentTestEnv, key: str) -> dict[str, Any]:
    response = httpx.post(f"{env.engine.ingress_url}/BankSession/{key}/history", timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.engine
@pytest.mark.parametrize("always_replay", [False, True], ids=["engine-default", "always-replay"])
def test_two_bank_turns_count_once_across_a_kill_during_the_model_call(
    agent_env: Callable[..., AgentTestEnv], capsys: pytest.CaptureFixture[str], always_replay: bool
) -> None:
    env = agent_env(
        BANK,
        always_replay=always_replay,  # Every suspension replays the journal: nothing may count twice.
        env={"RESILIENT_AGENTS_PRICES": json.dumps({"scripted": {"input": 0.4, "output": 1.6}})},
        pythonpath=[ROOT],
    )
    env.scripted.push(
        _costing(Reply.call("transfer_to_banking_agent"), 300, 3),
        _costing(Reply.call("get_balance"), 310, 4),
        _costing(Reply.say("Your balance is on its way."), 320, 30),
    )
    assert env.call("BankSession/alice/message", "what is my balance?").status_code == 200
    first = _history(env, "alice")["usage"]
    assert first["turns"] == [
        {
            "turn": 1,
            "model": "scripted",
            "requests": 3,
            "input_tokens": 930,
            "output_tokens": 37,
            "cost_usd": pytest.approx(0.0004312),
        }
    ]

    # Turn 2: the model call hangs until the service has been killed; the retried call is answered.
    release = threading.Event()

    def hanging(request: ParsedRequest) -> Reply:
        release.wait(timeout=120)
        return _costing(Reply.say("never delivered"), 9000, 900)

    env.scripted.push(hanging, _costing(Reply.say("Goodbye."), 400, 8))
    try:
        invocation = env.send("BankSession/alice/message", "thanks, bye")
        wait_until(lambda: len(env.scripted.received) == 4, what="the second turn's model call")
        env.kill_service()
        env.restart_service()
        answer = env.attach(invocation)
    finally:
        release.set()
    assert answer.status_code == 200, answer.text
    assert answer.json() == "Goodbye."

    assert env.llm_requests() == 5  # The model server saw the killed call and its retry ...
    history = _history(env, "alice")
    usage = history["usage"]  # ... the usage holds only the journaled responses.
    assert usage["turns"][1] == {
        "turn": 2,
        "model": "scripted",
        "requests": 1,
        "input_tokens": 400,
        "output_tokens": 8,
        "cost_usd": pytest.approx(0.0001728),
    }
    assert usage["total"] == {
        "requests": 4,
        "input_tokens": 1330,
        "output_tokens": 45,
        "cost_usd": pytest.approx(0.0006040),
    }
    assert history["current_agent"] == "banking_agent" and history["turn_running"] is False  # Existing fields.
    assert [m["text"] for m in history["history"] if m["role"] == "user"] == ["what is my balance?", "thanks, bye"]
    rows = env.query("SELECT key FROM state WHERE service_name = 'BankSession' AND service_key = 'alice'")
    assert sorted(row["key"] for row in rows) == [
        "session",
        "session:items:0",
        "session:items:1",
        "usage",  # The totals...
        "usage:turn:1",  # ...and each turn's entries under their own key: a turn writes a constant amount.
        "usage:turn:2",
    ]

    capsys.readouterr()
    assert sessions_show(env.engine.ingress_url, "BankSession", "alice", as_json=False) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["1", "scripted", "3", "930", "37", "$0.000431"] in lines, lines
    assert ["2", "scripted", "1", "400", "8", "$0.000173"] in lines, lines
    assert ["total", "4", "1,330", "45", "$0.000604"] in lines, lines
