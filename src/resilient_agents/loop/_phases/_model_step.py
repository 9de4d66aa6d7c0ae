"""Phase: one journaled model call. Private module.

The call is a single ``ctx.run_typed`` step named ``llm: <agent> #<n>`` whose journaled result is the neutral
:class:`ModelTurn`; on replay Restate returns it from the journal and the model is not called again.
"""

from __future__ import annotations

import restate

from resilient_agents import _tracing

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

    step = f"llm: {agent.name} #{state.llm_calls}"
    span_parent = _tracing.parent(ctx)

    async def complete() -> ModelTurn:
        model = getattr(client, "model", None) or agent.model.model
        host, provider = _tracing.host_of(client), _tracing.provider_of(client)
        # Inside the step: a replayed model call emits no span.
        with _tracing.model_call(
            span_parent, step=step, agent=agent.name, model=model, host=host, provider=provider
        ) as span:
            span.set_content(
                "input.value",
                {"instructions": agent.instructions, "messages": [m.model_dump(mode="json") for m in messages]},
            )
            turn = await client.complete(agent.instructions, messages, tools, agent.model)
            _record(span, turn)
        return turn

    options = state.settings.llm_retry.run_options(_TURN_SERDE)
    turn = await ctx.run_typed(step, complete, options)
    state.usage.add(turn.model or agent.model.model, turn.input_tokens, turn.output_tokens)
    state.append(ChatMessage(role="assistant", text=turn.text or "", tool_calls=turn.tool_calls, agent=agent.name))
    return turn


def _record(span: _tracing.SpanHandle, turn: ModelTurn) -> None:
    span.usage(turn.input_tokens, turn.output_tokens)
    span.set("gen_ai.response.model", turn.model)
    span.set("gen_ai.response.finish_reasons", ["tool_calls" if turn.tool_calls else "stop"])
    span.set_content("output.value", turn.model_dump(mode="json"))
