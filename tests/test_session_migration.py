"""Sessions stored by the previous format (schema version 1: the whole conversation in one record) are read and
continued by the chunked format (schema version 2), on both paths.

The fixtures in ``tests/fixtures/`` are the state of a 3-turn conversation exactly as the code before chunked
storage wrote it (captured from the engine's ``state`` table): ``sdk_session_v1.json`` (``session_object``, with
a tool call) and ``loop_session_v1.json`` (``loop_session_object``). The engine tests seed a fresh engine with
them through the admin API (``POST /services/<object>/state``) and send a fourth message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import restate
from restate.serde import Serde

from resilient_agents._chunked_state import chunk_key
from resilient_agents.cli._sessions import _message_count
from resilient_agents.loop._session import _read_stored as read_loop_stored
from resilient_agents.loop._types import SessionSnapshot
from resilient_agents.models import Reply
from resilient_agents.openai_agents._session import SESSION_STATE_KEY, RestateSession, SessionRecord
from resilient_agents.testing import AgentTestEnv, wait_until

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def _fixture(name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return value


SDK = _fixture("sdk_session_v1.json")
LOOP = _fixture("loop_session_v1.json")


class _State:
    """The state part of an object context over bytes, like the engine (for the deserialization tests)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.state = {key: json.dumps(value).encode() for key, value in values.items()}

    def key(self) -> str:
        return "k"

    async def get(self, name: str, serde: Serde[Any], entry_name: str | None = None) -> Any:
        raw = self.state.get(name)
        return None if raw is None else serde.deserialize(raw)

    def set(self, name: str, value: Any, serde: Serde[Any], entry_name: str | None = None) -> None:
        self.state[name] = serde.serialize(value)

    def clear(self, name: str, entry_name: str | None = None) -> None:
        self.state.pop(name, None)

    def json(self, name: str) -> Any:
        return json.loads(self.state[name])


# -- the deserialization layer -----------------------------------------------------------------------------------


def test_the_fixtures_are_schema_version_1_records() -> None:
    record = SessionRecord.model_validate(SDK["state"]["agents_session"])
    assert (record.turns, len(record.items)) == (3, 8)
    snapshot = SessionSnapshot.model_validate(LOOP["state"]["session"])
    assert (snapshot.current_agent, len(snapshot.history)) == ("concierge", 8)


async def test_restate_session_reads_a_version_1_record_and_moves_it_into_chunks_on_its_first_write() -> None:
    ctx = _State(SDK["state"])
    items = SDK["state"]["agents_session"]["items"]
    session = RestateSession(cast(restate.ObjectContext, ctx))
    head = await session.record()
    assert (head.current_agent, head.turns, head.turn_running) == ("Triage", 3, False)
    assert await session.get_items() == items
    assert ctx.json(SESSION_STATE_KEY)["schema_version"] == 1  # Reading changes nothing.

    await session.begin_turn()
    await session.add_items([{"role": "user", "content": "and meals?"}])
    stored = ctx.json(SESSION_STATE_KEY)
    assert stored["schema_version"] == 2 and "items" not in stored
    assert stored["log"]["chunks"] == 2 and stored["log"]["items"] == 9
    assert ctx.json(chunk_key(SESSION_STATE_KEY, 0)) == items
    assert ctx.json(chunk_key(SESSION_STATE_KEY, 1)) == [{"role": "user", "content": "and meals?"}]
    assert (await RestateSession(cast(restate.ObjectContext, ctx)).get_items())[-1]["content"] == "and meals?"  # type: ignore[typeddict-item]


async def test_the_loop_reads_a_version_1_snapshot_and_moves_it_into_chunks_on_its_first_write() -> None:
    ctx = _State(LOOP["state"])
    head, items = await read_loop_stored(cast(restate.ObjectContext, ctx), "bank")
    assert (head.current_agent, head.turn_running) == ("concierge", False)
    history = LOOP["state"]["session"]["history"]
    assert await items.all() == history
    items.seal()
    await items.append([{"role": "user", "text": "thanks"}])
    assert ctx.json("session:items:0") == history and ctx.json("session:items:1") == [
        {"role": "user", "text": "thanks"}
    ]
    assert (head.log.chunks, head.log.items) == (2, 9)


# -- on the engine -----------------------------------------------------------------------------------------------


def _seed(env: AgentTestEnv, fixture: dict[str, Any]) -> None:
    """Put the fixture's state into the engine (admin API) and wait until the engine applied it."""
    new_state = {key: list(json.dumps(value).encode()) for key, value in fixture["state"].items()}
    body = {"object_key": fixture["key"], "new_state": new_state}
    response = httpx.post(f"{env.engine.admin_url}/services/{fixture['object']}/state", json=body, timeout=30)
    assert response.status_code < 300, response.text

    def applied() -> bool:
        return _state(env, fixture) == fixture["state"]

    wait_until(applied, what="the seeded state to be applied")


def _state(env: AgentTestEnv, fixture: dict[str, Any]) -> dict[str, Any]:
    rows = env.query(
        f"SELECT key, value_utf8 FROM state WHERE service_name = '{fixture['object']}' "
        f"AND service_key = '{fixture['key']}'"
    )
    return {str(row["key"]): json.loads(str(row["value_utf8"])) for row in rows}


def _history(env: AgentTestEnv, fixture: dict[str, Any]) -> dict[str, Any]:
    url = f"{env.engine.ingress_url}/{fixture['object']}/{fixture['key']}/history"
    response = httpx.post(url, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.engine
def test_a_session_object_continues_a_conversation_stored_by_the_previous_format(
    agent_env: Callable[..., AgentTestEnv], tmp_path: Path
) -> None:
    env = agent_env("tests.apps.session_app:app", env={"GATE_DIR": str(tmp_path)}, pythonpath=[ROOT])
    _seed(env, SDK)
    old_items = SDK["state"]["agents_session"]["items"]
    before = _history(env, SDK)
    assert (before["items"], before["turns"], before["current_agent"]) == (old_items, 3, "Triage")
    assert before["usage"]["total"]["requests"] == 4  # The usage record is read as it was.

    env.scripted.push(Reply.say("Meals are served on long flights."))
    response = env.call("Support/ann/message", "and meals?")
    assert response.status_code == 200, response.text
    assert response.json() == "Meals are served on long flights."

    # The model saw the old conversation, tool call and output included, then the new message.
    [request] = env.scripted.received
    assert [m.text for m in request.messages if m.role == "user"] == [
        "how many bags?",
        "and wifi?",
        "seats?",
        "and meals?",
    ]
    roles = ["user", "assistant", "tool", "assistant", "user", "assistant", "user", "assistant", "user"]
    assert [m.role for m in request.messages] == roles

    after = _history(env, SDK)
    assert after["items"][:8] == old_items and len(after["items"]) == 10
    assert (after["turns"], after["turn_running"]) == (4, False)
    stored = _state(env, SDK)
    assert stored["agents_session"]["schema_version"] == 2
    assert stored["agents_session:items:0"] == old_items  # Moved into chunks once, by the first write.
    assert len(stored["agents_session:items:1"]) == 2
    assert stored["usage"]["last_turn"] == 4


@pytest.mark.engine
def test_a_loop_session_continues_a_conversation_stored_by_the_previous_format(
    agent_env: Callable[..., AgentTestEnv], tmp_path: Path
) -> None:
    env = agent_env("tests.loop.apps.loop_app:app", env={"GATE_DIR": str(tmp_path)}, pythonpath=[ROOT])
    _seed(env, LOOP)
    old_history = LOOP["state"]["session"]["history"]
    before = _history(env, LOOP)
    assert (before["history"], before["current_agent"], before["turn_running"]) == (old_history, "concierge", False)

    env.scripted.push(Reply.say("You are welcome."))
    response = env.call("Session/alice/message", "thanks")
    assert response.status_code == 200, response.text
    assert response.json() == "You are welcome."

    [request] = env.scripted.received
    assert [m.text for m in request.messages if m.role == "user"] == ["who am I?", "hi", "bye", "thanks"]
    assert "tool" in [m.role for m in request.messages]

    after = _history(env, LOOP)
    assert after["history"][:8] == old_history and len(after["history"]) == 10
    assert after["history"][-1]["text"] == "You are welcome."
    stored = _state(env, LOOP)
    assert stored["session"]["schema_version"] == 2
    assert stored["session:items:0"] == old_history
    assert [m["text"] for m in stored["session:items:1"]] == ["thanks", "You are welcome."]


def test_sessions_list_counts_the_messages_of_both_formats() -> None:
    assert _message_count(json.dumps(SDK["state"]["agents_session"])) == 8
    assert _message_count(json.dumps(LOOP["state"]["session"])) == 8
    head = {"schema_version": 2, "log": {"chunks": 2, "items": 10, "last_items": 2}, "current_agent": "Triage"}
    assert _message_count(json.dumps(head)) == 10
