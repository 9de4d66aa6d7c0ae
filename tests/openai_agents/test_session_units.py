"""Unit tests of the session pieces that need no engine: the stored record, RestateSession, CLI output."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
import restate
from agents import Agent
from agents.items import TResponseInputItem
from agents.memory import Session, SessionSettings
from pydantic import ValidationError
from restate.serde import Serde

from resilient_agents._chunked_state import chunk_key
from resilient_agents.cli._sessions import format_history
from resilient_agents.errors import ConfigurationError, ResilientAgentsError
from resilient_agents.openai_agents._session import SESSION_STATE_KEY, RestateSession, SessionRecord
from resilient_agents.openai_agents._session_object import agent_registry, history_json

USER: TResponseInputItem = {"role": "user", "content": "can you change my seat to 10b?"}
CALL: TResponseInputItem = {
    "type": "function_call",
    "call_id": "c1",
    "name": "update_seat",
    "arguments": '{"seat": "10B"}',
}
OUTPUT: TResponseInputItem = {"type": "function_call_output", "call_id": "c1", "output": "seat changed to 10B"}
ANSWER = cast(
    TResponseInputItem,
    {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Done: you sit in 10B.", "annotations": []}],
    },
)


class FakeObjectContext:
    """The state part of a Virtual Object context: bytes in a dict, through the given serde, like the engine."""

    def __init__(self, key: str = "s1") -> None:
        self._key = key
        self.state: dict[str, bytes] = {}
        self.entries: list[str] = []

    def key(self) -> str:
        return self._key

    async def get(self, name: str, serde: Serde[Any], entry_name: str | None = None) -> Any:
        self.entries.append(entry_name or "get")
        raw = self.state.get(name)
        return None if raw is None else serde.deserialize(raw)

    def set(self, name: str, value: Any, serde: Serde[Any], entry_name: str | None = None) -> None:
        self.entries.append(entry_name or "set")
        self.state[name] = serde.serialize(value)

    def clear(self, name: str) -> None:
        self.entries.append("clear")
        self.state.pop(name, None)

    def stored(self) -> dict[str, Any]:
        """The head record, with the items of its chunks under ``items`` (as schema version 1 kept them)."""
        value: dict[str, Any] = json.loads(self.state[SESSION_STATE_KEY])
        chunks = [json.loads(self.state[chunk_key(SESSION_STATE_KEY, n)]) for n in range(value["log"]["chunks"])]
        value["items"] = [item for chunk in chunks for item in chunk]
        assert value["log"]["items"] == len(value["items"])
        return value


def session(ctx: FakeObjectContext, **kwargs: Any) -> RestateSession:
    return RestateSession(cast(restate.ObjectContext, ctx), **kwargs)


def test_record_round_trips_through_json_with_its_schema_version() -> None:
    record = SessionRecord(items=[dict(USER), dict(CALL)], current_agent="Seat Booking", turns=3)
    stored = record.model_dump_json()
    assert json.loads(stored)["schema_version"] == 1
    assert SessionRecord.model_validate_json(stored) == record


@pytest.mark.parametrize(
    "data", [{"schema_version": 2, "items": []}, {"schema_version": 1, "items": [], "surprise": True}]
)
def test_record_rejects_unknown_versions_and_fields(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SessionRecord.model_validate(data)


def test_restate_session_outside_a_handler_explains_itself() -> None:
    with pytest.raises(ResilientAgentsError, match="outside a Restate handler"):
        RestateSession()


async def test_restate_session_implements_the_sdk_protocol_and_writes_each_change() -> None:
    ctx = FakeObjectContext("customer-7")
    memory = session(ctx)
    assert isinstance(memory, Session)
    assert memory.session_id == "customer-7"
    assert await memory.get_items() == []

    await memory.add_items([USER])
    assert ctx.stored()["items"] == [USER]  # Written at once, not at the end of the turn.
    await memory.add_items([CALL, OUTPUT, ANSWER])
    assert ctx.stored()["items"] == [USER, CALL, OUTPUT, ANSWER]
    assert await memory.get_items(limit=2) == [OUTPUT, ANSWER]
    assert await memory.get_items(limit=0) == []
    assert ctx.entries == [
        "session: read",
        "session: items 0",
        "session: add 1 item",
        "session: items 0 #2",
        "session: add 3 items",
    ]

    assert await memory.pop_item() == ANSWER
    assert ctx.stored()["items"] == [USER, CALL, OUTPUT]
    await memory.clear_session()
    assert ctx.stored()["items"] == [] and await memory.pop_item() is None


async def test_restate_session_reads_what_an_earlier_turn_stored() -> None:
    ctx = FakeObjectContext()
    first = session(ctx)
    await first.begin_turn()
    await first.add_items([USER])
    await first.set_pending([CALL])
    assert ctx.stored()["pending_items"] == [CALL] and ctx.stored()["turn_running"] is True
    await first.add_items([CALL, OUTPUT])
    assert ctx.stored()["pending_items"] == []
    await first.end_turn("Seat Booking")

    second = session(ctx, session_settings=SessionSettings(limit=5))
    record = await second.record()
    assert (record.current_agent, record.turns, record.turn_running) == ("Seat Booking", 1, False)
    assert await second.get_items() == [USER, CALL, OUTPUT]
    items = await second.get_items()
    cast(dict[str, Any], items[0])["content"] = "changed"  # Callers get copies, not the stored items.
    assert (await second.get_items())[0] == USER


async def test_a_failed_turn_is_not_counted_and_keeps_the_agent() -> None:
    ctx = FakeObjectContext()
    memory = session(ctx)
    await memory.note_agent("Triage")
    await memory.begin_turn()
    await memory.end_turn(None, completed=False)
    assert (ctx.stored()["current_agent"], ctx.stored()["turns"], ctx.stored()["turn_running"]) == ("Triage", 0, False)


def test_agent_registry_finds_handoff_targets_and_rejects_duplicate_names() -> None:
    faq = Agent(name="FAQ")
    triage = Agent(name="Triage", handoffs=[faq])
    faq.handoffs = [triage]
    seats = Agent(name="Seats")
    assert agent_registry(triage, [seats]) == {"Triage": triage, "FAQ": faq, "Seats": seats}
    with pytest.raises(ConfigurationError, match="'FAQ'"):
        agent_registry(triage, [Agent(name="FAQ")])


def test_history_json_and_its_readable_form() -> None:
    record = SessionRecord(
        items=[dict(USER), dict(CALL), dict(OUTPUT), dict(ANSWER), {"role": "user", "content": "thanks"}],
        pending_items=[{"type": "function_call", "call_id": "c2", "name": "send_invoice", "arguments": "{}"}],
        current_agent="Seat Booking",
        turns=1,
        turn_running=True,
    )
    body = history_json("customer-7", record, default_agent="Triage")
    assert body["schema_version"] == 1 and body["session"] == "customer-7"
    assert body["current_agent"] == "Seat Booking" and body["items"][0] == USER
    assert history_json("new", SessionRecord(), default_agent="Triage")["current_agent"] == "Triage"

    assert format_history(json.loads(json.dumps(body)), "Airline") == [
        "session 'customer-7' (Airline) · current agent: Seat Booking · 1 turn",
        "user: can you change my seat to 10b?",
        '  → update_seat({"seat": "10B"})',
        "  ← seat changed to 10B",
        "assistant: Done: you sit in 10B.",
        "user: thanks",
        "… turn in progress (waiting for these tool calls):",
        "  → send_invoice({})",
    ]
    assert format_history({"session": "x", "items": []})[1] == "(no messages yet)"
