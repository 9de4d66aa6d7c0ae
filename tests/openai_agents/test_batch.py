"""Which durable tool calls form a batch, and when the run context is copied for them."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest
from agents import RunContextWrapper
from agents.items import ModelResponse
from agents.usage import Usage
from openai.types.responses import ResponseFunctionToolCall

from resilient_agents.errors import TerminalAgentError
from resilient_agents.openai_agents import durable_tool
from resilient_agents.openai_agents._model import _durable_batch


@dataclass
class Ctx:
    seat: str = ""
    lock: object = field(default_factory=threading.RLock)  # Cannot be deep-copied.


@durable_tool
def lookup(index: int) -> str:
    """Look something up.

    Args:
        index: Which item.
    """
    return str(index)


@durable_tool
def set_seat(wrapper: RunContextWrapper[Ctx], seat: str) -> str:
    """Change the seat.

    Args:
        seat: The seat.
    """
    wrapper.context.seat = seat
    return seat


def _response(*calls: tuple[str, str, str]) -> ModelResponse:
    output = [
        ResponseFunctionToolCall(type="function_call", call_id=call_id, name=name, arguments=arguments)
        for call_id, name, arguments in calls
    ]
    return ModelResponse(output=list(output), usage=Usage(), response_id=None)


def test_calls_the_sdk_will_reject_are_left_out_so_no_call_waits_for_them() -> None:
    response = _response(
        ("a", "lookup", '{"index": "not a number"}'), ("b", "lookup", '{"index": 2}'), ("c", "x", "{}")
    )
    batch = _durable_batch(response, [lookup], context=None)
    assert batch is not None and batch.order == ["b"]


def test_no_durable_calls_means_no_batch() -> None:
    assert _durable_batch(_response(("a", "other", "{}")), [lookup], context=None) is None


def test_a_lone_call_uses_the_live_context_and_copies_nothing() -> None:
    batch = _durable_batch(_response(("a", "set_seat", '{"seat": "1A"}')), [set_seat], context=Ctx())
    assert batch is not None and batch.context_snapshot is None


def test_parallel_calls_with_an_uncopyable_context_fail_terminally_with_the_fix() -> None:
    response = _response(("a", "set_seat", '{"seat": "1A"}'), ("b", "lookup", '{"index": 1}'))
    with pytest.raises(TerminalAgentError, match="cannot be copied"):
        _durable_batch(response, [set_seat, lookup], context=Ctx())


def test_parallel_calls_without_context_copy_nothing() -> None:
    response = _response(("a", "lookup", '{"index": 1}'), ("b", "lookup", '{"index": 2}'))
    batch = _durable_batch(response, [lookup], context=Ctx())
    assert batch is not None and batch.order == ["a", "b"] and batch.context_snapshot is None


def test_sdk_approvals_on_a_durable_tool_are_refused() -> None:
    guarded = durable_tool(name_override="guarded")(lambda index: str(index))
    guarded.needs_approval = True
    with pytest.raises(TerminalAgentError, match="await_approval"):
        _durable_batch(_response(("a", "guarded", '{"index": 1}')), [guarded], context=None)
