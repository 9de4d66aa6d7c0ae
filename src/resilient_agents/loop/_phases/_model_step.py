"""Phase: one journaled model call. Private module.

The call is a single ``ctx.run_typed`` step named ``llm: <agent> #<n>`` whose journaled result is the neutral
:class:`ModelTurn`; on replay Restate returns it from the journal and the model is not called again.
"""

from __future__ import annotations

import restate

from .._agent import handoff_tool_name
from .._serde import PydanticSerde
from .._types import ChatMessage, ModelTurn, ToolDefinition
from ._outcome import TurnState

_TURN_SERDE: PydanticSerde[ModelTurn] = PydanticSerde(ModelTurn)


def tool_definitions(state: TurnState) -> list[ToolDefinition]:
    """The tools offered to the current agent's model: its own, then one per handoff target.

    Args:
        state: The turn's state.

    Returns:
        The tool definitions, in a stable order.
    """
    agent = state.agent
    definitions = [tool.definition() for tool in agent.tools]
    for target in agent.handoffs:
        purpose = state.agents[target].handoff_description
        text = f"Hand the conversation over to the agent {target!r}." + (f" {purpose}" if purpose else "")
        definitions.append(ToolDefinition(name=handoff_tool_name(target), description=text))
    return definitions


async def call_model(ctx: restate.Context, state: TurnState) -> ModelTurn:
    """Call the current agent's model once as a journaled step and record its answer in the history.

    Args:
        ctx: The handler's Restate context.
        state: The turn's state (its model-call counter advances).

    Returns:
        The model's answer (from the journal on replay).
    """
    state.llm_calls += 1
    agent, client = state.agent, state.client
    messages = list(state.history)  # A copy: the step may run after later appends on a retry.
    tools = tool_definitions(state)

    async def complete() -> ModelTurn:
        return await client.complete(agent.instructions, messages, tools, agent.model)

    options = state.settings.llm_retry.run_options(_TURN_SERDE)
    turn = await ctx.run_typed(f"llm: {agent.name} #{state.llm_calls}", complete, options)
    state.usage.add(turn.model or agent.model.model, turn.input_tokens, turn.output_tokens)
    state.append(ChatMessage(role="assistant", text=turn.text or "", tool_calls=turn.tool_calls, agent=agent.name))
    return turn
