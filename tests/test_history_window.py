"""The trimming rule of a session's model input (:class:`HistoryLimit`), without an engine.

The model sees the newest stored items that fit the limit, cut at a user message so that whole turns go and no
tool output goes without its call; the full history stays stored.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest
import restate
from restate.serde import Serde

from resilient_agents._chunked_state import ChunkedItems, ChunkIndex, item_chars
from resilient_agents._history_window import DEFAULT_MAX_CHARS, DEFAULT_MAX_ITEMS, HistoryLimit
from resilient_agents.loop import HistoryLimit as LoopHistoryLimit
from resilient_agents.loop._session import load_window
from resilient_agents.loop._types import ChatMessage, ToolCallRequest
from resilient_agents.openai_agents import HistoryLimit as SdkHistoryLimit
from resilient_agents.openai_agents._session import RestateSession, model_window


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def said(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def call(call_id: str) -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": "lookup", "arguments": "{}"}


def output(call_id: str, text: str = "notes") -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


def turn(n: int, *, tools: int = 0) -> list[dict[str, Any]]:
    calls = [call(f"c{n}-{i}") for i in range(tools)]
    outputs = [output(f"c{n}-{i}") for i in range(tools)]
    return [user(f"question {n}"), *calls, *outputs, said(f"answer {n}")]


def orphans(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    calls = {item["call_id"] for item in items if item.get("type") == "function_call"}
    return [item for item in items if item.get("type") == "function_call_output" and item["call_id"] not in calls]


def test_defaults_are_generous_and_documented() -> None:
    limit = HistoryLimit()
    assert (limit.max_items, limit.max_chars) == (DEFAULT_MAX_ITEMS, DEFAULT_MAX_CHARS) == (200, 200_000)
    assert SdkHistoryLimit is HistoryLimit and LoopHistoryLimit is HistoryLimit
    assert HistoryLimit(max_items=None, max_chars=None).unlimited and not limit.unlimited


@pytest.mark.parametrize("field", ["max_items", "max_chars"])
def test_a_limit_below_one_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match=f"HistoryLimit.{field} must be at least 1"):
        HistoryLimit(**{field: 0})


def test_a_history_that_fits_is_sent_whole() -> None:
    items = turn(1, tools=1) + turn(2)
    assert model_window(items, HistoryLimit(max_items=len(items))) == items
    assert model_window(items, HistoryLimit(max_items=None, max_chars=None)) == items


def test_the_cut_moves_forward_to_the_next_user_message() -> None:
    items = turn(1) + turn(2, tools=2) + turn(3)  # 2 + 6 + 2 items.
    window = model_window(items, HistoryLimit(max_items=7))  # The budget ends inside turn 2.
    assert window == turn(3)
    window = model_window(items, HistoryLimit(max_items=8))  # Turn 2 fits whole from its user message.
    assert window == turn(2, tools=2) + turn(3)


def test_the_character_budget_counts_the_items_json() -> None:
    items = turn(1) + turn(2) + turn(3)
    last_two = sum(item_chars(item) for item in turn(2) + turn(3))
    assert model_window(items, HistoryLimit(max_chars=last_two)) == turn(2) + turn(3)
    assert model_window(items, HistoryLimit(max_chars=last_two - 1)) == turn(3)


def test_a_tool_output_never_goes_without_its_call_even_when_one_turn_is_too_big() -> None:
    items = turn(1) + turn(2, tools=3)  # Turn 2: user, 3 calls, 3 outputs, answer.
    for max_items in range(1, len(items) + 1):
        window = model_window(items, HistoryLimit(max_items=max_items))
        assert window, max_items
        assert orphans(window) == [], (max_items, window)
        assert window == items[len(items) - len(window) :]  # Always the newest items.


def test_parallel_calls_keep_their_outputs() -> None:
    items = [user("q"), call("a"), call("b"), output("a"), output("b"), said("done")]
    window = model_window(items, HistoryLimit(max_items=4))  # Would start at call b, orphaning output a.
    assert orphans(window) == [] and window == [said("done")]
    assert model_window(items, HistoryLimit(max_items=5)) == items[1:]  # Both calls and both outputs.


def test_when_only_a_tool_output_fits_its_call_comes_along_over_the_budget() -> None:
    items = [user("q"), call("a"), output("a", "x" * 1000)]
    window = model_window(items, HistoryLimit(max_chars=1100))
    assert window == [call("a"), output("a", "x" * 1000)]


def test_the_loop_keeps_tool_messages_with_the_assistant_message_that_called_them() -> None:
    class State:
        def __init__(self, history: list[ChatMessage]) -> None:
            self.state = {
                "session:items:0": json.dumps([m.model_dump(mode="json") for m in history]).encode(),
            }

        async def get(self, name: str, serde: Serde[Any], entry_name: str | None = None) -> Any:
            raw = self.state.get(name)
            return None if raw is None else serde.deserialize(raw)

    calls = (ToolCallRequest(call_id="a", name="lookup"), ToolCallRequest(call_id="b", name="lookup"))
    history = [
        ChatMessage(role="user", text="q1"),
        ChatMessage(role="assistant", tool_calls=calls),
        ChatMessage(role="tool", text="1", call_id="a"),
        ChatMessage(role="tool", text="2", call_id="b"),
        ChatMessage(role="assistant", text="a1"),
        ChatMessage(role="user", text="q2"),
        ChatMessage(role="assistant", text="a2"),
    ]
    index = ChunkIndex(chunks=1, items=len(history), last_items=len(history))
    items = ChunkedItems(cast(restate.ObjectContext, State(history)), "session", index, label=None)

    async def window(max_items: int) -> list[ChatMessage]:
        return await load_window(items, HistoryLimit(max_items=max_items))

    assert asyncio.run(window(7)) == history
    assert asyncio.run(window(6)) == history[5:]  # Cut at q2: the tool messages never start the window.
    assert asyncio.run(window(4)) == history[5:]


class _Fake:
    """Bytes per state key, and the journal entry names, like the engine."""

    def __init__(self) -> None:
        self.state: dict[str, bytes] = {}
        self.reads: list[str] = []

    def key(self) -> str:
        return "k"

    async def get(self, name: str, serde: Serde[Any], entry_name: str | None = None) -> Any:
        self.reads.append(name)
        raw = self.state.get(name)
        return None if raw is None else serde.deserialize(raw)

    def set(self, name: str, value: Any, serde: Serde[Any], entry_name: str | None = None) -> None:
        self.state[name] = serde.serialize(value)

    def clear(self, name: str, entry_name: str | None = None) -> None:
        self.state.pop(name, None)


async def test_a_turn_reads_only_the_newest_chunks_and_the_session_keeps_everything() -> None:
    ctx = _Fake()
    for n in range(1, 31):  # 30 turns, one chunk each.
        session = RestateSession(cast(restate.ObjectContext, ctx))
        await session.begin_turn()
        await session.add_items(turn(n, tools=n % 3)[:1])  # type: ignore[arg-type]
        await session.add_items(turn(n, tools=n % 3)[1:])  # type: ignore[arg-type]
        await session.end_turn("Assistant")
    assert len([key for key in ctx.state if key.startswith("agents_session:items:")]) == 30

    ctx.reads.clear()
    session = RestateSession(cast(restate.ObjectContext, ctx), history_limit=HistoryLimit(max_items=10))
    window = await session.get_items()
    # Turns 30, 29 and 28 hold 2, 6 and 4 items: the newest 10 end inside turn 28, so turns 29 and 30 go.
    assert window == turn(29, tools=2) + turn(30)
    assert ctx.reads == ["agents_session", *(f"agents_session:items:{n}" for n in (29, 28, 27))]
    assert len(await session.get_items(limit=3)) == 3
    everything = [item for n in range(1, 31) for item in turn(n, tools=n % 3)]
    assert (
        await RestateSession(cast(restate.ObjectContext, ctx), history_limit=HistoryLimit(None, None)).get_items()
        == everything
    )
