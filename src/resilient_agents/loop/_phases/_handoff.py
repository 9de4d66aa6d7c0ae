"""Phase: hand the conversation over to another agent. Private module.

A handoff is not a durable action of its own: it follows deterministically from the journaled model answer,
so a replay takes the same decision. The session object writes the new current agent to its state.
"""

from __future__ import annotations

from resilient_agents import _tracing

from .._types import ChatMessage
from ._outcome import HandOff, TurnState


def apply_handoff(state: TurnState, handoff: HandOff) -> None:
    """Switch the answering agent and give each handoff call its tool output.

    Args:
        state: The turn's state (its agent changes).
        handoff: The resolved handoff.
    """
    source = state.agent.name
    state.append(
        ChatMessage(
            role="tool",
            text=f"Transferred to {handoff.target!r}; it answers from now on.",
            call_id=handoff.call.call_id,
            tool_name=handoff.call.name,
            agent=source,
        )
    )
    for call in handoff.ignored_handoffs:
        text = f"Ignored: the conversation was already transferred to {handoff.target!r}."
        state.append(ChatMessage(role="tool", text=text, call_id=call.call_id, tool_name=call.name, agent=source))
    _tracing.handoff(None, source, handoff.target)  # Not while the engine replays.
    state.agent = state.agents[handoff.target]
