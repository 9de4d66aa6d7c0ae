"""Durable streaming without the engine: the signature, the journaled completed event, the hub."""

from __future__ import annotations

import asyncio
import inspect

from agents import Runner
from agents.items import ModelResponse
from agents.usage import Usage
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from resilient_agents.openai_agents import DurableRunner
from resilient_agents.openai_agents._journal import JournaledModelResponse
from resilient_agents.openai_agents._streaming import StreamHub, completed_event


def _parameters(function: object) -> dict[str, tuple[inspect._ParameterKind, object]]:
    signature = inspect.signature(function)  # type: ignore[arg-type]
    return {name: (p.kind, p.default) for name, p in signature.parameters.items() if name not in ("cls", "self")}


def test_run_streamed_mirrors_runner_run_streamed() -> None:
    ours = _parameters(DurableRunner.run_streamed)
    assert ours.pop("settings") == (inspect.Parameter.KEYWORD_ONLY, None)
    # Fails when the SDK adds, renames or re-defaults a parameter that we do not follow.
    assert ours == _parameters(Runner.run_streamed)


def test_the_completed_event_carries_the_journaled_response() -> None:
    message = ResponseOutputMessage(
        id="msg_1",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text="Checking.", annotations=[])],
    )
    call = ResponseFunctionToolCall(type="function_call", call_id="call_1", name="get_weather", arguments="{}")
    usage = Usage(requests=1, input_tokens=10, output_tokens=3, total_tokens=13)
    record = JournaledModelResponse.from_model_response(
        ModelResponse(output=[message, call], usage=usage, response_id="resp_1", request_id="req_1")
    )

    event = completed_event(record)

    assert event.type == "response.completed"
    assert [item.model_dump(exclude_unset=True) for item in event.response.output] == record.output
    assert event.response.id == "resp_1"
    assert event.response._request_id == "req_1"
    assert event.response.usage is not None and event.response.usage.total_tokens == 13


async def test_a_late_reader_gets_every_event_and_the_stream_ends_with_done() -> None:
    hub = StreamHub()
    attempt = hub.begin_step("inv_1", "llm: A #1")
    hub.publish("inv_1", {"type": "text_delta", "step": "llm: A #1", "attempt": attempt, "delta": "Hi"})

    async def read(after: int) -> list[dict[str, object]]:
        return [event async for event in hub.follow("inv_1", after)]

    reader = asyncio.ensure_future(read(0))
    resumed = asyncio.ensure_future(read(2))
    await asyncio.sleep(0)
    hub.publish("inv_1", {"type": "done", "output": "Hi"})
    events, rest = await reader, await resumed

    assert [e["type"] for e in events] == ["llm_start", "text_delta", "done"]
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert rest == events[2:]
    assert hub.begin_step("inv_1", "llm: A #1") == 2  # The same step again: its second attempt here.
