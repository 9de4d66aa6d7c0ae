"""Phase support: a turn that is cancelled (interrupted) ends cleanly. Private module.

Restate delivers a cancellation as a :class:`restate.TerminalError` (HTTP 409, ``"cancelled"``) raised by the
durable await that was waiting. The loop then gives every tool call of the history that has no output yet an
output saying it was interrupted, because every provider rejects a conversation with unanswered tool calls;
the next turn sees the whole history, interrupted calls included.
"""

from __future__ import annotations

import restate

from .._types import ChatMessage
from ._outcome import TurnState

CANCELLED_STATUS = 409
"""The status of the terminal error by which Restate reports a cancellation."""

INTERRUPTED_OUTPUT = "cancelled: the turn was interrupted (a newer message arrived) before this tool finished"
"""The output given to a tool call that an interruption left unfinished."""


def is_cancellation(error: restate.TerminalError) -> bool:
    """Whether ``error`` is Restate's cancellation of this invocation (not some other terminal failure).

    Args:
        error: A terminal error raised by a durable await.

    Returns:
        ``True`` for a cancellation.
    """
    return error.status_code == CANCELLED_STATUS and error.message == "cancelled"


def close_open_calls(state: TurnState) -> int:
    """Give every tool call of the history without an output the :data:`INTERRUPTED_OUTPUT`.

    Args:
        state: The turn's state.

    Returns:
        How many tool calls were closed.
    """
    answered = {message.call_id for message in state.history if message.role == "tool"}
    closed = 0
    for message in list(state.history):
        for call in message.tool_calls:
            if call.call_id in answered:
                continue
            answered.add(call.call_id)
            closed += 1
            state.append(
                ChatMessage(
                    role="tool", text=INTERRUPTED_OUTPUT, call_id=call.call_id, tool_name=call.name, agent=message.agent
                )
            )
    return closed
