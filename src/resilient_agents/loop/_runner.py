"""The orchestrator of one agent turn: it only wires the phases together. Private module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import restate

from resilient_agents import _tracing

from ._errors import MaxTurnsExceededError
from ._phases._handoff import apply_handoff
from ._phases._model_step import call_model
from ._phases._outcome import FinalAnswer, HandOff, RunTools, TurnState
from ._phases._resolve import resolve
from ._phases._tool_step import run_tools
from ._types import ChatMessage

Checkpoint = Callable[[TurnState], Awaitable[None]]
"""Called after each phase (the session object writes its state there, so a reader sees the turn progress)."""


async def _no_checkpoint(state: TurnState) -> None:
    return None


async def run_turn(ctx: restate.Context, state: TurnState, checkpoint: Checkpoint = _no_checkpoint) -> str:
    """Run the loop until the current agent answers: model call, tools or handoff, repeat.

    Args:
        ctx: The handler's Restate context.
        state: The turn's state; the user's message is already the last item of its history.
        checkpoint: Called after every phase.

    Returns:
        The final answer.

    Raises:
        MaxTurnsExceededError: When the guard stops the turn and ``on_max_turns`` is ``error`` (terminal).
    """
    with _tracing.turn(ctx, agent=state.agent.name, session_key=state.session_key, path="loop"):
        while state.llm_calls < state.settings.max_turns:
            turn = await call_model(ctx, state)
            await checkpoint(state)  # A reader sees the model's tool calls while the tools run.
            match resolve(state.agent, turn):
                case FinalAnswer(text):
                    return text
                case RunTools(calls):
                    await run_tools(ctx, state, calls)
                case HandOff() as handoff:
                    await run_tools(ctx, state, handoff.other_calls)
                    apply_handoff(state, handoff)
            await checkpoint(state)
        return _max_turns_reached(state)


def _max_turns_reached(state: TurnState) -> str:
    settings = state.settings
    if settings.on_max_turns == "final_message":
        state.append(ChatMessage(role="assistant", text=settings.max_turns_message, agent=state.agent.name))
        return settings.max_turns_message
    raise MaxTurnsExceededError(
        f"agent {state.agent.name!r} did not answer within max_turns={settings.max_turns} model calls; "
        "raise LoopSettings.max_turns or set on_max_turns='final_message'"
    )
