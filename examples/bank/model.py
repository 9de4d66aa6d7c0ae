"""The bank's model client, built in the serving process from the environment (``ModelConfig.from_env``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from resilient_agents.config import ModelConfig
from resilient_agents.loop import (
    ChatMessage,
    LoopModelSettings,
    ModelClient,
    ModelTurn,
    OpenAIChatClient,
    OpenAIResponsesClient,
    ToolDefinition,
)


class ConfiguredClient:
    """A loop model client that uses the configured model name for every agent.

    The agents are defined at import time, before the environment is read; the model name comes from
    ``RESILIENT_AGENTS_MODEL`` (or the backend's default) when the first turn runs.

    Args:
        client: The wire-format client.
        model: The model name to send.
    """

    def __init__(self, client: ModelClient, model: str) -> None:
        self._client = client
        self._model = model

    async def complete(
        self,
        instructions: str,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolDefinition],
        settings: LoopModelSettings,
    ) -> ModelTurn:
        """Ask the model, with the configured model name (see :class:`~resilient_agents.loop.ModelClient`)."""
        configured = dataclasses.replace(settings, model=self._model)
        return await self._client.complete(instructions, messages, tools, configured)


def make_client() -> ModelClient:
    """The model client of the bank's agents: the backend, wire API and model from the environment.

    Returns:
        A client for the Responses API or Chat Completions (the offline demo model speaks both).

    Raises:
        ConfigurationError: When no model is configured.
    """
    config = ModelConfig.from_env()
    wire: ModelClient
    if config.api == "responses":
        wire = OpenAIResponsesClient(base_url=config.base_url, api_key=config.api_key, timeout=config.timeout)
    else:
        wire = OpenAIChatClient(base_url=config.base_url, api_key=config.api_key, timeout=config.timeout)
    return ConfiguredClient(wire, config.model)
