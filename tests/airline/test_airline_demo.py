"""The airline example with the offline demo model: the seed's conversations, per-session memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from resilient_agents.models import DemoModel
from resilient_agents.testing import AgentTestEnv

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def airline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentTestEnv]:
    base = tmp_path_factory.mktemp("airline")
    env = AgentTestEnv(
        "examples.airline.agent:app",
        base,
        model=DemoModel(),
        pythonpath=[ROOT],
        env={"AIRLINE_OUTBOX": str(base / "outbox.jsonl")},
    )
    with env:
        yield env


def _say(env: AgentTestEnv, session: str, text: str) -> str:
    response = env.call(f"Airline/{session}/message", text)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert isinstance(answer, str)
    return answer


def test_invoice_is_sent_once(airline: AgentTestEnv) -> None:
    answer = _say(airline, "alice", "can you send me an invoice for booking AB4568?")
    assert "invoice" in answer.lower() and "AB4568" in answer
    sent = [json.loads(line) for line in (airline.base_dir / "outbox.jsonl").read_text().splitlines()]
    assert [m["subject"] for m in sent] == ["Invoice for booking AB4568"]
    assert sent[0]["to"] == "alice@example.com"


def test_seat_change_asks_for_the_confirmation_number_then_changes_the_seat(airline: AgentTestEnv) -> None:
    first = _say(airline, "bob", "can you change my seat to 10b?")
    assert "confirmation number" in first.lower()
    second = _say(airline, "bob", "5666")
    assert "10B" in second and "5666" in second

    history = airline.call("Airline/bob/history").json()
    assert history["current_agent"] == "Seat Booking Agent"  # Sticky: the agent that spoke last.
    assert history["context"]["seat_number"] == "10B"
    assert history["context"]["confirmation_number"] == "5666"
    users = [i["content"] for i in history["items"] if i.get("role") == "user"]
    assert users == ["can you change my seat to 10b?", "5666"]


def test_each_session_has_its_own_history(airline: AgentTestEnv) -> None:
    _say(airline, "carol", "how much baggage can I bring?")
    carol = airline.call("Airline/carol/history").json()
    dave = airline.call("Airline/dave/history").json()
    assert [i["content"] for i in carol["items"] if i.get("role") == "user"] == ["how much baggage can I bring?"]
    assert dave["items"] == [] and dave["context"]["customer_id"] == "dave"
    assert "bag" in json.dumps(carol["items"]).lower()
