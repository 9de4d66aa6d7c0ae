"""Phase: run the tool calls of one model answer, concurrently and replay-safe. Private module.

Each tool call is exactly one durable action (see :mod:`resilient_agents.loop._tools`). All actions are
started in tool-call order without awaiting in between, so their journal entries are created in that order
on every run and every replay; then the batch is awaited together with ``restate.gather`` (the actions run
concurrently) and the outputs are appended in call order. A tool's terminal failure becomes its output
(``error: ...``) so the model can react; transient failures are retried by Restate inside the action.

When the turn is cancelled (interrupted by a newer message) while the batch runs, the outputs of the calls
that finished are kept and the others get an "interrupted" output; then the cancellation propagates.
"""

from __future__ import annotations

from typing import Any

import restate
from restate.server_context import ServerDurableFuture

from resilient_agents import _tracing

from .._tools import LoopFunctionTool, LoopToolContext, Pending, Ready, ToolStart
from .._types import ChatMessage, ToolCallRequest
from ._interrupt import INTERRUPTED_OUTPUT, is_cancellation
from ._outcome import TurnState


def _start(ctx: restate.Context, state: TurnState, call: ToolCallRequest) -> ToolStart:
    tool = next((tool for tool in state.agent.tools if tool.name == call.name), None)
    if tool is None:
        offered = ", ".join(repr(t.name) for t in state.agent.tools) or "none"
        return Ready(f"error: there is no tool {call.name!r}; the tools are: {offered}")
    tool_ctx = LoopToolContext(
        session_key=state.session_key,
        agent=state.agent.name,
        call_id=call.call_id,
        invocation_id=state.invocation_id,
    )
    return tool.start(ctx, call, tool_ctx, state.settings)


def _is_completed(future: restate.RestateDurableFuture[Any]) -> bool:
    """Whether the action already finished (only futures of the server context know; others count as not)."""
    if not isinstance(future, ServerDurableFuture):
        return False
    return bool(future.is_completed())  # type: ignore[no-untyped-call]  # The SDK leaves this method unannotated.


async def _output(start: ToolStart, *, interrupted: bool = False) -> str:
    match start:
        case Ready(text):
            return text
        case Pending(future, decode):
            if interrupted and not _is_completed(future):
                return INTERRUPTED_OUTPUT
            try:
                return decode(await future)
            except restate.TerminalError as error:
                return f"error: {error.message}"


async def run_tools(ctx: restate.Context, state: TurnState, calls: tuple[ToolCallRequest, ...]) -> None:
    """Run one batch of tool calls and append their outputs to the history, in call order.

    Args:
        ctx: The handler's Restate context.
        state: The turn's state.
        calls: The tool calls, in the model's order.
    """
    if not calls:
        return
    _tracing.note_tool_batch(len(calls))  # The tools' spans say whether they ran alone or batched.
    spans = _call_spans(ctx, state, calls)
    starts = [_start(ctx, state, call) for call in calls]  # No await in between: journal order = call order.
    pending = [start.future for start in starts if isinstance(start, Pending)]
    try:
        if pending:
            await restate.gather(*pending)
    except restate.TerminalError as error:
        _finish(ctx, spans, error)
        if not is_cancellation(error):
            raise
        await _append_outputs(state, calls, starts, interrupted=True)
        raise
    _finish(ctx, spans)
    await _append_outputs(state, calls, starts, interrupted=False)


def _call_spans(ctx: restate.Context, state: TurnState, calls: tuple[ToolCallRequest, ...]) -> list[_tracing.OpenSpan]:
    """Start a span for each tool that calls a handler (function tools trace themselves, inside their step).

    Such a call may outlast the attempt (a workflow waiting for a person): every attempt starts the span
    again under the same id, and the attempt that sees the batch complete live ends it.
    """
    if not _tracing.enabled():
        return []
    span_parent = _tracing.parent(ctx)
    spans = []
    for call in calls:
        tool = next((tool for tool in state.agent.tools if tool.name == call.name), None)
        if tool is None or isinstance(tool, LoopFunctionTool):
            continue
        step = f"call: {getattr(tool, 'service', '')}/{getattr(tool, 'handler', '')}"
        span = _tracing.start_resumable_tool(
            ctx, span_parent, step=step, name=call.name, call_id=call.call_id, batch_size=len(calls)
        )
        if span is not None:
            span.handle.set_content("input.value", call.arguments)
            spans.append(span)
    return spans


def _finish(ctx: restate.Context, spans: list[_tracing.OpenSpan], error: BaseException | None = None) -> None:
    for span in spans:
        span.finish(ctx, error)


async def _append_outputs(
    state: TurnState, calls: tuple[ToolCallRequest, ...], starts: list[ToolStart], *, interrupted: bool
) -> None:
    for call, start in zip(calls, starts, strict=True):
        text = await _output(start, interrupted=interrupted)
        state.append(
            ChatMessage(role="tool", text=text, call_id=call.call_id, tool_name=call.name, agent=state.agent.name)
        )
