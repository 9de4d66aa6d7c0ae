"""Counting a session turn's model usage on the Agents SDK path. Private module.

The SDK's ``on_llm_end`` hook sees every model response of a run, the journaled ones of a replay included,
in the order the run uses them; the session hooks count them with :func:`count_response` into a
:class:`~resilient_agents.usage.UsageTally`. The SDK's responses do not say which model answered, so the name
is the one the run resolves for the agent (the same rule as the SDK: the run configuration's model first,
then the agent's, then the SDK's default).
"""

from __future__ import annotations

from typing import Any

from agents import Agent, RunConfig
from agents.items import ModelResponse
from agents.models import get_default_model
from agents.models.interface import Model

from resilient_agents.usage import UsageTally


def configured_model_name(agent: Agent[Any], run_config: RunConfig | None) -> str | None:
    """The name of the model a run uses for ``agent``, or ``None`` when a custom ``Model`` does not tell it."""
    chosen: str | Model | None = run_config.model if run_config is not None else None
    if chosen is None:
        chosen = agent.model
    if chosen is None:
        return get_default_model()
    if isinstance(chosen, str):
        return chosen
    wrapped = getattr(chosen, "wrapped", None)  # DurableModel wraps the model that talks to the provider.
    name = getattr(wrapped if isinstance(wrapped, Model) else chosen, "model", None)
    return name if isinstance(name, str) else None


def count_response(tally: UsageTally, agent: Agent[Any], run_config: RunConfig | None, response: ModelResponse) -> None:
    """Count one model response of the turn (its usage as journaled) for the agent's model."""
    usage = response.usage
    tally.add(
        configured_model_name(agent, run_config),
        usage.input_tokens,
        usage.output_tokens,
        requests=max(usage.requests, 1),
    )
