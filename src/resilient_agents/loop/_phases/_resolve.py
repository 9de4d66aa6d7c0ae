"""Phase: decide what one model answer means (pure, no I/O). Private module."""

from __future__ import annotations

from .._agent import LoopAgent, handoff_tool_name
from .._types import ModelTurn
from ._outcome import FinalAnswer, HandOff, Outcome, RunTools


def resolve(agent: LoopAgent, turn: ModelTurn) -> Outcome:
    """Sort a model answer into a final answer, a tool batch, or a handoff.

    Args:
        agent: The agent that answered (its handoff targets).
        turn: The model's answer.

    Returns:
        :class:`FinalAnswer` when no tool was called; :class:`HandOff` when a handoff tool was called (the first
        one wins; other tools of the answer still run); :class:`RunTools` otherwise.
    """
    if not turn.tool_calls:
        return FinalAnswer(turn.text or "")
    targets = {handoff_tool_name(name): name for name in agent.handoffs}
    handoffs = [call for call in turn.tool_calls if call.name in targets]
    others = tuple(call for call in turn.tool_calls if call.name not in targets)
    if not handoffs:
        return RunTools(others)
    first = handoffs[0]
    return HandOff(targets[first.name], first, others, tuple(handoffs[1:]))
