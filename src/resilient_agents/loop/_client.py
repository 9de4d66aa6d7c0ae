"""The one small interface every model client of the native loop implements. Private module."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from ._settings import ModelSettings
from ._types import ChatMessage, ModelTurn, ToolDefinition


@runtime_checkable
class ModelClient(Protocol):
    """Calls a model once: instructions, history and tools in, a neutral :class:`ModelTurn` out.

    Implementations do not retry (Restate retries the journaled step) and raise
    :class:`restate.exceptions.RetryableError` for transient failures and
    :class:`~resilient_agents.errors.TerminalAgentError` for failures a retry cannot fix.
    """

    async def complete(
        self,
        instructions: str,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolDefinition],
        settings: ModelSettings,
    ) -> ModelTurn:
        """Ask the model for its next step.

        Args:
            instructions: The agent's system prompt.
            messages: The conversation so far, oldest first.
            tools: The tools the model may call.
            settings: Model name and sampling settings.

        Returns:
            The model's answer: text and/or tool calls.
        """
        ...


def decode_arguments(text: str) -> Any:
    """Decode a tool call's JSON arguments for wire formats that want an object; bad JSON gives ``{}``."""
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def encode_arguments(value: Any) -> str:
    """Encode a tool call's arguments as the JSON string the loop stores (a string stays as it is)."""
    if isinstance(value, str):
        return value
    return json.dumps(value if value is not None else {}, ensure_ascii=False, separators=(",", ":"))
