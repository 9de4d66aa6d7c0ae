"""Helpers of the long-conversation tests (both paths): run many turns, measure what each one writes.

Bytes written to state by a turn are read from the engine: the sizes (``raw_length``) of the ``SetState``
entries in the turn's journal (``sys_journal``), grouped by state key. Every state write of a turn is such an
entry, and the engine applies exactly these to the object's state; reads and other entries are not counted.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from resilient_agents.models import Reply
from resilient_agents.testing import AgentTestEnv

TOOL_EVERY = 7
"""Every seventh turn calls the ``lookup`` tool (so the history holds tool calls and outputs to cut around)."""


@dataclasses.dataclass
class Turn:
    """What one measured turn did."""

    invocation: str
    """The turn's invocation id."""
    writes: dict[str, int]
    """Bytes written per state key (sum of the ``SetState`` entries' sizes)."""
    requests: list[dict[str, Any]]
    """The bodies of the model requests of the turn, as the model server received them."""

    def bytes(self, keep: Callable[[str], bool] = lambda key: True) -> int:
        """Bytes written to the keys ``keep`` accepts."""
        return sum(size for key, size in self.writes.items() if keep(key))


def answer(n: int) -> str:
    """The model's answer in turn ``n``."""
    return f"Answer number {n}: all good."


def question(n: int) -> str:
    """The user's message in turn ``n``."""
    return f"Question number {n}, please?"


def state_writes(env: AgentTestEnv, invocation: str) -> dict[str, int]:
    """Bytes of the ``SetState`` entries of ``invocation``'s journal, per state key."""
    rows = env.query(
        "SELECT raw_length, entry_lite_json FROM sys_journal "
        f"WHERE id = '{invocation}' AND entry_type = 'Command: SetState'"
    )
    writes: dict[str, int] = {}
    for row in rows:
        key = str(json.loads(str(row["entry_lite_json"]))["Command"]["SetState"]["key"])
        writes[key] = writes.get(key, 0) + int(row["raw_length"])
    return writes


def run_turns(env: AgentTestEnv, path: str, turns: int, measured: set[int]) -> dict[int, Turn]:
    """Send ``turns`` messages one after the other to ``path`` (``Object/key/message``); measure ``measured``."""
    found: dict[int, Turn] = {}
    for n in range(1, turns + 1):
        if n % TOOL_EVERY == 0:
            env.scripted.push(Reply.call("lookup", topic=f"topic {n}"), Reply.say(answer(n)))
        else:
            env.scripted.push(Reply.say(answer(n)))
        before = len(env.model_server.requests)
        invocation = env.send(path, question(n))
        response = env.attach(invocation)
        assert response.status_code == 200, (n, response.text)
        assert response.json() == answer(n)
        if n in measured:
            requests = [request.body for request in env.model_server.requests[before:]]
            found[n] = Turn(invocation, state_writes(env, invocation), requests)
    return found


def request_chars(body: dict[str, Any]) -> int:
    """The size of a model request's input (its ``input`` items as JSON)."""
    return len(json.dumps(body["input"]))


def check_pairs(items: list[dict[str, Any]]) -> None:
    """Every tool output in ``items`` comes after its call."""
    calls: set[str] = set()
    for item in items:
        if item.get("type") == "function_call":
            calls.add(str(item["call_id"]))
        if item.get("type") == "function_call_output":
            assert item["call_id"] in calls, f"tool output without its call: {item}"
