"""Durable streaming: journaled streamed model calls, and a side channel that carries their deltas to clients.

Private module.

**The model call.** Inside a durable run, ``DurableModel.stream_response`` makes one journaled step
``"llm: <agent> #<n>"`` whose body reads the provider's stream: each event goes to the SDK's stream as it
arrives (so ``RunResultStreaming.stream_events()`` sees the deltas) and each text delta to the side
channel; once the provider's response is complete the step journals it as one
:class:`JournaledModelResponse`, the same record a non-streamed call writes. The SDK then gets a
``response.completed`` event rebuilt from that record, live and on replay alike, so the run continues from
identical data either way. On replay the journaled response is used and nothing of that call is streamed
again.

**The side channel.** The Restate ingress answers with the handler's result only, so the deltas travel
beside it: the service process's ASGI app (``durable_app``) serves ``GET /_streams/<invocation id>``, one
JSON object per line, fed by an in-process hub that keeps each invocation's events (a client that connects
late gets them from the start). See :data:`EVENT_TYPES` for what a client reads.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from urllib.parse import parse_qs

import openai
import restate
from agents import RunResultStreaming
from agents.exceptions import AgentsException, ModelBehaviorError
from agents.items import ModelResponse, TResponseStreamEvent
from agents.stream_events import StreamEvent
from agents.usage import Usage
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseOutputItemDoneEvent,
    ResponseTextDeltaEvent,
    ResponseUsage,
)
from pydantic_core import to_jsonable_python
from restate.context import RunOptions

from resilient_agents._asgi import answer_lifespan
from resilient_agents.errors import ModelUnavailableError
from resilient_agents.streams import HEARTBEAT_SECONDS, STREAMS_PATH

from ._context import InvocationCancelled, RunState, durable_context, leaving_error
from ._errors import classify_model_error
from ._journal import JournaledModelResponse

RETENTION_SECONDS = 600.0
"""How long a finished (or never used) stream is kept for clients that connect late."""

EVENT_TYPES = {
    "hello": "first line of every connection: `server` names this process (a new value after a restart)",
    "llm_start": "a model call starts streaming: `step` (llm: <agent> #<n>) and `attempt` (counted per process); "
    "a second llm_start for a step means that call started over: drop the text it streamed before",
    "text_delta": "a piece of the model's text: `step`, `attempt`, `delta`",
    "llm_end": "the model call's response is complete (it is journaled next): `step`, `attempt`",
    "llm_error": "this attempt of the model call failed (`message`); it is retried or the turn fails",
    "done": "the run finished: `output` is its final output as JSON; the stream ends",
    "failed": "the run failed terminally: `message`; the stream ends",
    "heartbeat": "nothing happened for a while",
}
"""The side channel's event types (every event but hello and heartbeat also has `seq`, its position)."""

_FINAL = frozenset({"done", "failed"})


# -- the hub ------------------------------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class _Channel:
    events: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    changed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    closed: bool = False
    subscribers: int = 0
    touched: float = dataclasses.field(default_factory=time.monotonic)
    attempts: dict[str, int] = dataclasses.field(default_factory=dict)


class StreamHub:
    """The events of the invocations this process runs, kept per invocation for the side channel."""

    def __init__(self) -> None:
        self.server = os.urandom(6).hex()
        """Names this process: a client that reconnects after a restart starts reading from the beginning."""
        self._channels: dict[str, _Channel] = {}

    def begin_step(self, invocation_id: str, step: str) -> int:
        """Announce that a model call starts streaming; return its attempt number (counted in this process)."""
        channel = self._channel(invocation_id)
        attempt = channel.attempts.get(step, 0) + 1
        channel.attempts[step] = attempt
        self.publish(invocation_id, {"type": "llm_start", "step": step, "attempt": attempt})
        return attempt

    def publish(self, invocation_id: str, event: dict[str, Any]) -> None:
        """Append ``event`` to the invocation's stream and wake its readers."""
        channel = self._channel(invocation_id)
        channel.events.append({**event, "seq": len(channel.events) + 1})
        channel.closed = event["type"] in _FINAL
        channel.touched = time.monotonic()
        channel.changed.set()
        channel.changed = asyncio.Event()

    async def follow(self, invocation_id: str, after: int = 0) -> AsyncIterator[dict[str, Any]]:
        """The invocation's events after position ``after``, live, until ``done`` or ``failed``.

        Yields a ``heartbeat`` after :data:`HEARTBEAT_SECONDS` without events. An invocation this process has
        not run yet is waited for.
        """
        channel = self._channel(invocation_id)
        channel.subscribers += 1
        position = max(0, after)
        try:
            while True:
                while position < len(channel.events):
                    position += 1
                    yield channel.events[position - 1]
                if channel.closed:
                    return
                try:
                    await asyncio.wait_for(channel.changed.wait(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield {"type": "heartbeat"}
        finally:
            channel.subscribers -= 1
            channel.touched = time.monotonic()

    def _channel(self, invocation_id: str) -> _Channel:
        channel = self._channels.get(invocation_id)
        if channel is None:
            self._prune()
            channel = self._channels[invocation_id] = _Channel()
        return channel

    def _prune(self) -> None:
        horizon = time.monotonic() - RETENTION_SECONDS
        for key, channel in list(self._channels.items()):
            if channel.subscribers == 0 and channel.touched < horizon:
                del self._channels[key]


HUB = StreamHub()
"""The hub of this process."""


# -- the ASGI endpoint ----------------------------------------------------------------------------------------

_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_App = Callable[[_Scope, _Receive, _Send], Awaitable[None]]


def with_streams(app: _App) -> _App:
    """Wrap a Restate ASGI app so that it also serves ``GET /_streams/<invocation id>`` (newline-delimited JSON).

    Query parameters: ``server`` and ``after``: a client that reconnects to the same process (same
    ``server`` as in its ``hello``) gets only the events after position ``after``; otherwise all of them.
    """

    async def asgi(scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] == "lifespan":  # Restate's app has no lifespan events; answer them here.
            await answer_lifespan(receive, send)
        elif scope["type"] == "http" and str(scope.get("path", "")).startswith(STREAMS_PATH):
            await _serve_stream(scope, receive, send)
        else:
            await app(scope, receive, send)

    return asgi


async def _serve_stream(scope: _Scope, receive: _Receive, send: _Send) -> None:
    invocation_id = str(scope["path"])[len(STREAMS_PATH) :].strip("/")
    if scope.get("method") != "GET" or not invocation_id or "/" in invocation_id:
        await _send_json(send, 404, {"message": f"use GET {STREAMS_PATH}<invocation id>"})
        return
    query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
    same_server = query.get("server", [""])[0] == HUB.server
    after = _int(query.get("after", ["0"])[0]) if same_server else 0
    headers = [(b"content-type", b"application/x-ndjson"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    hello = {"type": "hello", "server": HUB.server, "invocation_id": invocation_id}
    writer = asyncio.ensure_future(_write_events(send, hello, HUB.follow(invocation_id, after)))
    watcher = asyncio.ensure_future(_until_disconnect(receive))
    try:
        await asyncio.wait({writer, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        writer.cancel()
        watcher.cancel()
    if writer.done() and not writer.cancelled() and writer.exception() is None:
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _write_events(send: _Send, hello: dict[str, Any], events: AsyncIterator[dict[str, Any]]) -> None:
    await send({"type": "http.response.body", "body": _line(hello), "more_body": True})
    async for event in events:
        await send({"type": "http.response.body", "body": _line(event), "more_body": True})


async def _until_disconnect(receive: _Receive) -> None:
    while (await receive()).get("type") != "http.disconnect":
        pass


async def _send_json(send: _Send, status: int, body: dict[str, Any]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode() + b"\n"


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


# -- the journaled streamed model call ------------------------------------------------------------------------


def journaled_stream(
    run: RunState,
    open_stream: Callable[[], AsyncIterator[TResponseStreamEvent]],
    options: RunOptions[JournaledModelResponse],
    host: str,
    traced: Callable[[str], AbstractContextManager[Callable[[ModelResponse], None]]] | None = None,
) -> AsyncIterator[TResponseStreamEvent]:
    """One streamed model call as one journaled step (see the module docstring).

    Args:
        run: The durable run.
        open_stream: Starts the provider's stream (``Model.stream_response`` of the wrapped model).
        options: The step's retry options and serde.
        host: The model server's host, for error messages.
        traced: Opens the span of one execution of the step (given the step name); it yields a function that
            records the response on the span.

    Returns:
        The events for the SDK: the provider's events as they come (none on replay), then one
        ``response.completed`` event rebuilt from the journal.
    """
    ctx = durable_context()
    invocation_id = ctx.request().id
    step = run.next_llm_step_name(ctx)  # Named here, in the run's own task: the same order as ``get_response``.
    live: asyncio.Queue[TResponseStreamEvent] = asyncio.Queue()

    async def call() -> JournaledModelResponse:
        attempt = HUB.begin_step(invocation_id, step)
        where = {"step": step, "attempt": attempt}
        with traced(step) if traced is not None else nullcontext(_ignore) as record:
            response = await attempt_once(where)
            record(response)
        return JournaledModelResponse.from_model_response(response)

    async def attempt_once(where: dict[str, Any]) -> ModelResponse:
        try:
            response = await _read_stream(open_stream(), live, lambda delta: HUB.publish(invocation_id, delta | where))
        except Exception as error:
            HUB.publish(invocation_id, {"type": "llm_error", **where, "message": str(error) or repr(error)})
            mapped = classify_model_error(error, host)
            if mapped is error:
                raise
            raise mapped from error
        HUB.publish(invocation_id, {"type": "llm_end", **where})
        return response

    future = ctx.run_typed(step, call, options)
    return _events_of_step(future, live)


def _ignore(response: ModelResponse) -> None:
    return None


async def _events_of_step(
    future: Awaitable[JournaledModelResponse],
    live: asyncio.Queue[TResponseStreamEvent],
) -> AsyncIterator[TResponseStreamEvent]:
    async def journaled() -> JournaledModelResponse:
        return await future

    # A task of its own waits for the durable step, so that this generator can hand the SDK the live events
    # meanwhile. Only that task awaits the durable future; this one awaits in-process events.
    waiter = asyncio.ensure_future(journaled())
    getter: asyncio.Future[TResponseStreamEvent] | None = None
    try:
        while True:
            getter = asyncio.ensure_future(live.get())
            done, _ = await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                break
            yield getter.result()
        while not live.empty():
            yield live.get_nowait()
        record = waiter.result()
    finally:
        if getter is not None:
            getter.cancel()
        waiter.cancel()
    yield completed_event(record)


async def _read_stream(
    events: AsyncIterator[TResponseStreamEvent],
    live: asyncio.Queue[TResponseStreamEvent],
    publish: Callable[[dict[str, Any]], None],
) -> ModelResponse:
    """Read the provider's stream to its end; pass events on; return the complete response."""
    completed: Response | None = None
    done_items: list[Any] = []
    async for event in events:
        kind = getattr(event, "type", None)
        if isinstance(event, ResponseCompletedEvent):
            completed = event.response  # The SDK gets the journaled response instead (``completed_event``).
            continue
        if kind == "response.incomplete":
            raise ModelBehaviorError(f"the model's response is incomplete: {_reason(event)}")
        if kind in {"response.failed", "error", "response.error"}:
            raise ModelUnavailableError(f"the model's stream reported {kind}: {_reason(event)}")
        if isinstance(event, ResponseTextDeltaEvent):
            publish({"type": "text_delta", "delta": event.delta})
        elif isinstance(event, ResponseOutputItemDoneEvent):
            done_items.append(event.item)
        live.put_nowait(event)
    if completed is None:
        raise ModelUnavailableError("the model's stream ended without a completed response")
    return ModelResponse(
        # Some backends leave the final output empty and send the items in ``output_item.done`` events only;
        # the SDK's own streaming loop takes them from there too.
        output=list(completed.output) or done_items,
        usage=_usage(completed.usage),
        response_id=completed.id,
        request_id=getattr(completed, "_request_id", None),
    )


def _reason(event: object) -> str:
    response = getattr(event, "response", None)
    details = getattr(response, "incomplete_details", None) or getattr(response, "error", None)
    return str(details or getattr(event, "message", None) or event)


def _usage(usage: ResponseUsage | None) -> Usage:
    if usage is None:
        return Usage()
    return Usage(
        requests=1,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        input_tokens_details=usage.input_tokens_details,
        output_tokens_details=usage.output_tokens_details,
    )


def completed_event(record: JournaledModelResponse) -> ResponseCompletedEvent:
    """The ``response.completed`` event the SDK reads for a journaled response (live and on replay alike)."""
    response = record.to_model_response()
    usage = response.usage
    rebuilt = Response.model_construct(
        id=record.response_id,
        object="response",
        created_at=0.0,
        model="",
        output=response.output,
        parallel_tool_calls=False,
        tool_choice="auto",
        tools=[],
        status="completed",
        usage=ResponseUsage(
            input_tokens=usage.input_tokens,
            input_tokens_details=usage.input_tokens_details,
            output_tokens=usage.output_tokens,
            output_tokens_details=usage.output_tokens_details,
            total_tokens=usage.total_tokens,
        )
        if usage.requests
        else None,
    )
    rebuilt._request_id = record.request_id
    return ResponseCompletedEvent.model_construct(response=rebuilt, sequence_number=0, type="response.completed")


# -- the run's result -----------------------------------------------------------------------------------------


class DurableRunResultStreaming(RunResultStreaming):
    """The SDK's :class:`agents.RunResultStreaming`; its ``stream_events`` also ends the side channel.

    When the run ends, the invocation's side channel gets ``done`` (with the final output) or, for a failure
    no retry can fix, ``failed``; the SDK's failures leave as :class:`TerminalAgentError` and a cancellation
    as Restate's ``TerminalError("cancelled", 409)``, as with ``DurableRunner.run``.
    """

    _resilient_agents_invocation_id: str = ""

    async def stream_events(self) -> AsyncIterator[StreamEvent]:
        """The SDK's events (see :meth:`agents.RunResultStreaming.stream_events`)."""
        invocation_id = self._resilient_agents_invocation_id
        try:
            async for event in super().stream_events():
                yield event
        except (InvocationCancelled, AgentsException, restate.TerminalError, openai.OpenAIError) as error:
            mapped = leaving_error(error, nested=False)
            message = mapped.message if isinstance(mapped, restate.TerminalError) else str(mapped)
            HUB.publish(invocation_id, {"type": "failed", "message": message})
            if mapped is error:
                raise
            raise mapped from error
        HUB.publish(invocation_id, {"type": "done", "output": _jsonable(self.final_output)})


def as_durable_result(result: RunResultStreaming, invocation_id: str) -> DurableRunResultStreaming:
    """Turn the SDK's streaming result into a :class:`DurableRunResultStreaming` (the same object)."""
    result.__class__ = DurableRunResultStreaming
    assert isinstance(result, DurableRunResultStreaming)
    result._resilient_agents_invocation_id = invocation_id
    return result


def _jsonable(output: object) -> Any:
    try:
        return to_jsonable_python(output)
    except ValueError:  # pydantic_core's PydanticSerializationError is a ValueError.
        return str(output)
