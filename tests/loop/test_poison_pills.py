"""Poison pills of the native loop, unit level: what the model sends never makes Restate retry forever.

Each input here would repeat on every retry and replay (it comes from the journaled model answer), so it must
either go back to the model as the tool's ``error: ...`` output or fail terminally, never raise something
Restate retries. The engine-level catalogue is ``tests/integration/test_bad_inputs.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import openai
import pytest
import restate
from pydantic import BaseModel, field_validator

from resilient_agents.loop import (
    AnthropicClient,
    LoopModelSettings,
    LoopSettings,
    LoopToolContext,
    ModelAnswerError,
    OpenAIChatClient,
    OpenAIResponsesClient,
    StepRetry,
    ToolCallRequest,
    delayed_send_tool,
    loop_tool,
    service_tool,
    workflow_tool,
)
from resilient_agents.loop._client import ModelClient, build_turn
from resilient_agents.loop._tools import Pending, Ready
from resilient_agents.loop._tools._base import ArgumentError, parse_arguments

TOOL_CTX = LoopToolContext("alice", "bank", "c1", "inv_1")


class _Context:
    """Stands in for the Restate context: records sends and calls, keeps a run step's action to call it later."""

    def __init__(self) -> None:
        self.actions: list[Callable[[], Awaitable[str]]] = []
        self.sent: list[dict[str, Any]] = []

    def run_typed(self, name: str, action: Callable[[], Awaitable[str]], options: Any) -> str:
        self.actions.append(action)
        return "future"

    def generic_send(self, service: str, handler: str, arg: bytes, key: str | None = None, **kw: Any) -> None:
        self.sent.append({"service": service, "handler": handler, "key": key, **kw})

    def generic_call(self, service: str, handler: str, arg: bytes, key: str | None = None) -> str:
        self.sent.append({"service": service, "handler": handler, "key": key})
        return "future"


def _call(name: str, arguments: str) -> ToolCallRequest:
    return ToolCallRequest(call_id="c1", name=name, arguments=arguments)


@pytest.mark.parametrize(
    "arguments",
    [
        '{"x": 1e400}',
        '{"x": NaN}',
        '{"x": -Infinity}',
        "[" * 100_000 + "]" * 100_000,
        '{"x": ' + "9" * 5000 + "}",
        '{"x": 1',
        "\x00",
    ],
    ids=["float-overflow", "nan", "infinity", "nested-100k", "int-5000-digits", "truncated", "nul"],
)
def test_arguments_that_are_not_strict_json_are_argument_errors(arguments: str) -> None:
    with pytest.raises(ArgumentError, match="not valid JSON"):
        parse_arguments(_call("t", arguments))


@pytest.mark.parametrize(
    "delay",
    ["1e20", '"inf"', '"nan"', '"Infinity"', "-1", "1e308", '"1e20"', "null", '"soon"'],
)
def test_delayed_send_rejects_delays_it_cannot_schedule(delay: str) -> None:
    ctx = _Context()
    remind = delayed_send_tool("remind_me", "Account", "remind", description="Remind.")
    started = remind.start(ctx, _call("remind_me", f'{{"delay_seconds": {delay}}}'), TOOL_CTX, LoopSettings())  # type: ignore[arg-type]
    assert isinstance(started, Ready) and started.text.startswith("error: ")
    assert "delay_seconds" in started.text
    assert ctx.sent == []


def test_delayed_send_accepts_the_limit_itself() -> None:
    ctx = _Context()
    remind = delayed_send_tool("remind_me", "Account", "remind", description="Remind.")
    settings = LoopSettings(max_send_delay=timedelta(hours=1))
    started = remind.start(ctx, _call("remind_me", '{"delay_seconds": 3600}'), TOOL_CTX, settings)  # type: ignore[arg-type]
    assert isinstance(started, Ready) and "3600 seconds" in started.text
    assert ctx.sent[0]["send_delay"] == timedelta(hours=1)


@loop_tool
def convert(amount: float) -> str:
    """Convert an amount.

    Args:
        amount: The amount.
    """
    return f"{int(amount * 100)} cents"


@pytest.mark.parametrize("amount", ['"inf"', '"-inf"', '"nan"', '"Infinity"'])
def test_loop_tool_float_arguments_must_be_finite(amount: str) -> None:
    ctx = _Context()
    started = convert.start(ctx, _call("convert", f'{{"amount": {amount}}}'), TOOL_CTX, LoopSettings())  # type: ignore[arg-type]
    assert isinstance(started, Ready) and "invalid arguments for 'convert'" in started.text
    assert ctx.actions == []


class _Strict(BaseModel):
    amount: float

    @field_validator("amount")
    @classmethod
    def _check(cls, value: float) -> float:
        if value > 1e6:
            raise TypeError("custom validators may raise TypeError, which pydantic does not wrap")
        return value


def _broken_key(tool_ctx: LoopToolContext, args: BaseModel | None) -> str:
    raise KeyError("customer_tier")


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        (service_tool("pay", "Payments", "pay", description=".", input_model=_Strict), '{"amount": 1e9}', "TypeError"),
        (workflow_tool("loan", "Loan", description=".", key=_broken_key), "{}", "KeyError"),
    ],
    ids=["validator-raises-type-error", "workflow-key-raises"],
)
def test_a_tool_that_fails_while_starting_answers_the_model(tool: Any, arguments: str, expected: str) -> None:
    ctx = _Context()
    started = tool.start(ctx, _call(tool.name, arguments), TOOL_CTX, LoopSettings())
    assert isinstance(started, Ready) and started.text.startswith("error: ") and expected in started.text
    assert ctx.sent == []


def _action(tool: Any, arguments: str = "{}") -> Callable[[], Awaitable[str]]:
    ctx = _Context()
    started = tool.start(ctx, _call(tool.name, arguments), TOOL_CTX, LoopSettings())
    assert isinstance(started, Pending)
    return ctx.actions[0]


@pytest.mark.parametrize(
    "error", [TypeError("bug"), ValueError("bad"), OverflowError("big"), KeyError("k"), ZeroDivisionError("z")]
)
async def test_a_tool_raising_a_deterministic_error_is_not_retried(error: Exception) -> None:
    @loop_tool
    async def broken() -> str:
        """Fail."""
        raise error

    with pytest.raises(restate.TerminalError, match=f"the tool 'broken' failed \\({type(error).__name__}"):
        await _action(broken)()


async def test_a_tool_returning_what_cannot_be_encoded_is_not_retried() -> None:
    @loop_tool
    def odd() -> object:
        """Return something JSON cannot hold."""
        return object()

    with pytest.raises(restate.TerminalError, match="the tool 'odd' failed"):
        await _action(odd)()


async def test_a_transient_tool_failure_is_left_to_restate_to_retry() -> None:
    @loop_tool
    async def flaky() -> str:
        """Fail like a network."""
        raise ConnectionError("ledger unreachable")

    with pytest.raises(ConnectionError):
        await _action(flaky)()


async def test_a_tool_past_its_timeout_fails_with_a_clear_timeout() -> None:
    @loop_tool(timeout=timedelta(milliseconds=10), retry=StepRetry(max_attempts=2))
    async def hangs() -> str:
        """Never finish."""
        await asyncio.get_running_loop().create_future()  # Nobody resolves it.
        return "never"

    with pytest.raises(TimeoutError, match=r"'hangs' did not finish within 0\.01 seconds"):
        await _action(hangs)()


# -- model answers the clients cannot read as their API: terminal, with a clear message --------------------


def _client(api: str, body: bytes, content_type: str = "application/json") -> ModelClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": content_type})

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    if api == "anthropic":
        return AnthropicClient("k", base_url="http://model.test", http_client=http)
    oai = openai.AsyncOpenAI(base_url="http://model.test/v1", api_key="k", http_client=http)
    return OpenAIResponsesClient(oai) if api == "responses" else OpenAIChatClient(oai)


@pytest.mark.parametrize("api", ["responses", "chat", "anthropic"])
@pytest.mark.parametrize("body", [b"{}", b"[]", b'"hello"', b"42", b'{"output": 3, "choices": {}, "content": "x"}'])
async def test_a_model_answer_of_the_wrong_shape_is_terminal(api: str, body: bytes) -> None:
    with pytest.raises(ModelAnswerError, match=r"not a valid .* answer"):
        await _client(api, body).complete("", [], [], LoopModelSettings())


@pytest.mark.parametrize("api", ["responses", "chat", "anthropic"])
async def test_odd_fields_of_a_model_answer_do_not_fail_the_step(api: str) -> None:
    calls = [
        {"id": "same", "name": "a", "args": {"x": 1}},
        {"id": "same", "name": "b", "args": "not json"},
        {"id": None, "name": None, "args": None},
    ]
    body = _answer(api, calls)
    turn = await _client(api, json.dumps(body).encode()).complete("", [], [], LoopModelSettings())
    assert [call.call_id for call in turn.tool_calls] == ["same", "call_2", "call_3"]
    assert [call.name for call in turn.tool_calls] == ["a", "b", ""]
    assert turn.tool_calls[1].arguments == "not json"  # The tool tells the model, when it runs.
    assert turn.model is None and turn.input_tokens is None


def _answer(api: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    odd = {"model": 7, "usage": {"input_tokens": "many", "prompt_tokens": "many"}}
    if api == "responses":
        items = [
            {"type": "function_call", "call_id": c["id"], "name": c["name"], "arguments": c["args"]} for c in calls
        ]
        return {"id": "r", "object": "response", "output": [*items, {"type": "mystery"}], **odd}
    if api == "chat":
        tool_calls = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["args"]}} for c in calls
        ]
        return {"id": "c", "choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": tool_calls}}], **odd}
    blocks = [{"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["args"]} for c in calls]
    return {"id": "m", "content": [*blocks, "not a block", {"type": "text", "text": None}], **odd}


def test_build_turn_keeps_ids_unique() -> None:
    turn = build_turn(text=None, calls=[("call_2", "a", {}), ("call_2", "b", {}), ("", "c", "{}")])
    assert [call.call_id for call in turn.tool_calls] == ["call_2", "call_2_", "call_3"]


async def test_a_refusal_is_the_answer() -> None:
    body = {"id": "r", "output": [{"type": "message", "content": [{"type": "refusal", "refusal": "I cannot."}]}]}
    turn = await _client("responses", json.dumps(body).encode()).complete("", [], [], LoopModelSettings())
    assert turn.text == "I cannot."
