"""Issue 7, acceptance 3: ``send_invoice`` survives a ``kill -9`` right after its step, on the airline example.

``send_invoice`` is a lone ``durable_tool``: its body (email the invoice, set the booking's confirmation
number on the run context) is one journaled step ``tool: send_invoice`` of the turn, which journals the run
context after the tool too. The service is killed while the next model call is in flight, so the turn
replays: the email must not go out again, the confirmation number must come back from the journal (the
session is new, so nothing else could set it), and the session's stored context and history must agree.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resilient_agents.models import ParsedRequest, Reply, ScriptedModel
from resilient_agents.testing import AgentTestEnv, wait_until

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
BOOKING = "AB4568"
SESSION = "alice"


@pytest.fixture
def held() -> Iterator[tuple[threading.Event, threading.Event]]:
    """``(held, release)``: the model call after the tool step sets ``held``, then waits for ``release``."""
    held, release = threading.Event(), threading.Event()
    yield held, release
    release.set()  # Never leave a model-server thread waiting, whatever the test did.


def _outbox(env: AgentTestEnv) -> list[dict[str, Any]]:
    path = env.base_dir / "outbox.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _stored_state(env: AgentTestEnv) -> dict[str, Any]:
    """The Airline object's state for the session, as the engine stores it (key -> JSON value)."""
    rows = env.query(f"SELECT key, value_utf8 FROM state WHERE service_name = 'Airline' AND service_key = '{SESSION}'")
    return {str(row["key"]): json.loads(str(row["value_utf8"])) for row in rows}


def test_invoice_sent_once_and_context_kept_after_kill_following_the_tool_step(
    tmp_path: Path, held: tuple[threading.Event, threading.Event]
) -> None:
    model_call_held, release = held

    def answer_after_release(request: ParsedRequest) -> Reply:
        model_call_held.set()
        release.wait(timeout=120)  # The model call in flight when the service dies; its answer is lost.
        return Reply.say("lost with the killed service")

    model = ScriptedModel(
        Reply.call("send_invoice", confirmation_number=BOOKING),
        answer_after_release,
        lambda request: Reply.say(f"Done: {request.trailing_tool_outputs()[-1].text}"),
    )
    with AgentTestEnv(
        "examples.airline.agent:app",
        tmp_path / "env",
        model=model,
        pythonpath=[ROOT],
        env={"AIRLINE_OUTBOX": str(tmp_path / "env" / "outbox.jsonl")},
    ) as env:
        invocation = env.send(f"Airline/{SESSION}/message", f"can you send me an invoice for booking {BOOKING}?")
        wait_until(model_call_held.is_set, timeout=60, what="the model call after the send_invoice step")
        assert len(_outbox(env)) == 1  # The tool's step finished before the kill.
        env.kill_service()
        release.set()
        env.restart_service()

        response = env.attach(invocation, timeout=120)
        assert response.status_code == 200, response.text
        answer = response.json()

        # The side effect happened once: the replay took the tool's result from the journal.
        sent = _outbox(env)
        assert [(m["to"], m["subject"]) for m in sent] == [(f"{SESSION}@example.com", f"Invoice for booking {BOOKING}")]
        tool_steps = [
            e for e in env.journal(invocation) if e.entry_type == "Command: Run" and e.name.startswith("tool:")
        ]
        assert [e.name for e in tool_steps] == ["tool: send_invoice"]
        # Model calls: the tool call, the one lost with the service, and the one that answered after the replay.
        assert env.llm_requests() == 3

        expected_output = f"Sent the invoice for booking {BOOKING} to {SESSION}@example.com (message {sent[0]['id']})."
        assert answer == f"Done: {expected_output}"

        # The session's stored context holds the change, restored from the journal (a new session's context
        # has no confirmation number); the history handler and the raw object state say the same.
        history = env.call(f"Airline/{SESSION}/history").json()
        expected_context = {
            "customer_id": SESSION,
            "passenger_name": None,
            "confirmation_number": BOOKING,
            "seat_number": None,
            "flight_number": "FLT-123",
            "email": f"{SESSION}@example.com",
        }
        assert history["context"] == expected_context, history
        stored = _stored_state(env)
        assert stored["agents_context"] == expected_context, stored

        # The history shows the invoice exactly once, and it is the change the context holds.
        assert history["turn_running"] is False and history["pending_items"] == [], history
        calls = [i for i in history["items"] if i.get("type") == "function_call" and i.get("name") == "send_invoice"]
        assert len(calls) == 1, history["items"]
        assert json.loads(calls[0]["arguments"]) == {"confirmation_number": history["context"]["confirmation_number"]}
        outputs = [i for i in history["items"] if i.get("type") == "function_call_output"]
        assert [o["call_id"] for o in outputs] == [calls[0]["call_id"]], history["items"]
        assert outputs[0]["output"] == expected_output
        assert history["context"]["email"] in outputs[0]["output"]
        chunks = range(stored["agents_session"]["log"]["chunks"])  # The items live in chunks of their own.
        assert [item for n in chunks for item in stored[f"agents_session:items:{n}"]] == history["items"]
