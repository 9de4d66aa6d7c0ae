"""Phase: run the tool calls of one model answer, concurrently and replay-safe. Private module.

Each tool call is exactly one durable action (see :mod:`resilient_agents.loop._tools`). All actions are
started in tool-call order without awaiting in between, so their journal entries are created in that order
on every run and every replay; then the batch is awaited together with ``restate.gather`` (the actions run
concurrently) and the outputs are appended in call order. A tool's terminal failure becomes its output
(``error: ...``) so the model can react; transient failures are retried by Restate inside the action.
"""

from __future__ import annotations

import restate

from .._tools import Pending, Ready, ToolContext, ToolStart
from .._types import ChatMessage, ToolCallRequest
from ._outcome import TurnState


def _start(ctx: restate.Context, state: TurnState, call: ToolCallRequest) -> ToolStart:
    tool = next((tool for tool in state.agent.tools if tool.name == call.name), None)
    if tool is None:
        offered = ", ".join(repr(t.name) for t in state.agent.tools) or "none"
        return Ready(f"error: there is no tool {call.name!r}; the tools are: {offered}")
    tool_ctx = ToolContext(session_key=state.session_key, agent=state.agent.name, call_id=call.call_id)
    return tool.start(ctx, call, tool_ctx, state.settings)


async def _output(start: ToolStart) -> str:
    match start:
        case Ready(text):
            return text
        case Pending(future, decode):
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
    starts = [_start(ctx, state, call) for call in calls]  # No await in between: journal order = call order.
    pending = [start.future for start in starts if isinstance(start, Pending)]
    if pending:
        await restate.gather(*pending)
    for call, start in zip(calls, starts, strict=True):
        text = await _output(start)
        state.append(
            ChatMessage(role="tool", text=text, call_id=call.call_id, tool_name=call.name, agent=state.agent.name)
        )
