"""A loop model client that sends the configured model name for every agent. Private module.

Built by :meth:`resilient_agents.config.ModelConfig.loop_client`: agents are defined at import time, before
the environment is read, so the model name of ``RESILIENT_AGENTS_MODEL`` (or the backend's default) is
applied when a turn asks the model, the way ``RunConfig.model`` applies to every agent on the SDK path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ._client import ModelClient
from ._settings import LoopModelSettings
from ._types import ChatMessage, ModelTurn, ToolDefinition


class ConfiguredModelClient:
    """A :class:`ModelClient` that sends ``model`` whatever model name an agent's settings hold.

    Args:
        client: The wire-format client (Responses, Chat Completions or Anthropic Messages).
        model: The model name to send.
    """

    def __init__(self, client: ModelClient, model: str) -> None:
        self.wrapped = client
        self.model = model

    async def complete(
        self,
        instructions: str,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolDefinition],
        settings: LoopModelSettings,
    ) -> ModelTurn:
        """Ask the model, with the configured model name (see :class:`ModelClient`)."""
        configured = dataclasses.replace(settings, model=self.model)
        return await self.wrapped.complete(instructions, messages, tools, configured)

    async def aclose(self) -> None:
        """Close the wrapped client's HTTP connections."""
        close = getattr(self.wrapped, "aclose", None)
        if close is not None:
            await close()

    def __repr__(self) -> str:
        return f"ConfiguredModelClient({type(self.wrapped).__name__}, model={self.model!r})"
