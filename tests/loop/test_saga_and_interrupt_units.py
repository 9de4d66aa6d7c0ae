"""Unit tests of the saga helper, the interrupt bookkeeping and unique workflow keys (no engine)."""

from __future__ import annotations

from typing import Any

import pytest
import restate

from resilient_agents.loop import (
    ChatMessage,
    CompensatedError,
    LoopAgent,
    LoopSettings,
    LoopToolContext,
    Saga,
    ToolCallRequest,
    unique_key,
)
from resilient_agents.loop._phases._interrupt import INTERRUPTED_OUTPUT, close_open_calls, is_cancellation
from resilient_agents.loop._phases._outcome import TurnState


class _Log:
    """Records the compensations that ran, in order; a name in ``failing`` fails terminally."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.ran: list[str] = []
        self.failing = failing

    def undo(self, name: str) -> Any:
        async def run() -> None:
            self.ran.append(name)
            if name in self.failing:
                raise restate.TerminalError(f"{name} is impossible")

        return run


async def test_saga_compensates_in_reverse_once_each_on_a_terminal_failure() -> None:
    log = _Log()
    with pytest.raises(CompensatedError) as caught:
        async with Saga() as saga:
            saga.add("refund alice", log.undo("refund alice"))
            saga.add("reverse bob", log.undo("reverse bob"))
            raise restate.TerminalError("clearing refused", status_code=422)
    assert log.ran == ["reverse bob", "refund alice"]
    assert caught.value.status_code == 422
    assert caught.value.message == "clearing refused. Undone, newest first: reverse bob, refund alice"
    assert saga.pending == []  # Compensations are forgotten once run: never twice.


async def test_saga_reports_a_compensation_that_fails_and_runs_the_others() -> None:
    log = _Log(failing=frozenset({"reverse bob"}))
    saga = Saga()
    saga.add("refund alice", log.undo("refund alice"))
    saga.add("reverse bob", log.undo("reverse bob"))
    done, failed = await saga.compensate()
    assert log.ran == ["reverse bob", "refund alice"]
    assert done == ["refund alice"]
    assert failed == ["reverse bob (reverse bob is impossible)"]


async def test_saga_leaves_transient_failures_and_success_alone() -> None:
    log = _Log()
    async with Saga() as saga:
        saga.add("refund alice", log.undo("refund alice"))
    assert log.ran == []
    with pytest.raises(ConnectionError):
        async with Saga() as saga:
            saga.add("refund alice", log.undo("refund alice"))
            raise ConnectionError("retry me")  # Restate retries the invocation; the journal replays the steps.
    assert log.ran == []


def test_cancellation_is_told_apart_from_other_terminal_errors() -> None:
    assert is_cancellation(restate.TerminalError("cancelled", 409))
    assert not is_cancellation(restate.TerminalError("conflict", 409))
    assert not is_cancellation(restate.TerminalError("cancelled", 500))


def test_open_tool_calls_are_closed_after_an_interruption() -> None:
    agent = LoopAgent("a", "x")
    calls = (ToolCallRequest(call_id="c1", name="slow"), ToolCallRequest(call_id="c2", name="fast"))
    state = TurnState(
        agents={"a": agent},
        agent=agent,
        history=[
            ChatMessage(role="user", text="hi"),
            ChatMessage(role="assistant", tool_calls=calls, agent="a"),
            ChatMessage(role="tool", text="done", call_id="c2", tool_name="fast", agent="a"),
        ],
        client=None,  # type: ignore[arg-type]  # Not called here.
        settings=LoopSettings(),
    )
    assert close_open_calls(state) == 1
    assert state.history[-1] == ChatMessage(
        role="tool", text=INTERRUPTED_OUTPUT, call_id="c1", tool_name="slow", agent="a"
    )
    assert close_open_calls(state) == 0


def test_unique_key_is_stable_and_distinguishes_calls() -> None:
    first = LoopToolContext("alice", "loans", "call_1", invocation_id="inv_1")
    assert unique_key(first, "loan") == unique_key(first, "loan")
    assert unique_key(first, "loan").startswith("loan-alice-")
    others = [
        LoopToolContext("alice", "loans", "call_1", invocation_id="inv_2"),
        LoopToolContext("alice", "loans", "call_2", invocation_id="inv_1"),
    ]
    assert len({unique_key(tc, "loan") for tc in [first, *others]}) == 3
