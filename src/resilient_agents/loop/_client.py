"""The one small interface every model client of the native loop implements. Private module."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from ._settings import LoopModelSettings
from ._types import ChatMessage, ModelTurn, ToolCallRequest, ToolDefinition


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
        settings: LoopModelSettings,
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
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def encode_arguments(value: Any) -> str:
    """Encode a tool call's arguments as the JSON string the loop stores (a string stays as it is).

    Whatever the model sent is kept (as JSON text); the tool checks it when it runs and tells the model if it
    does not fit, so an odd value never fails the model step.
    """
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value if value is not None else {}, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):  # Not JSON-encodable (cannot happen for a decoded body).
        return str(value)


def build_turn(
    *,
    text: str | None,
    calls: list[tuple[Any, Any, Any]],
    model: Any = None,
    input_tokens: Any = None,
    output_tokens: Any = None,
) -> ModelTurn:
    """The journaled :class:`ModelTurn` of one answer, from fields a server may have filled oddly.

    A model name or token count of the wrong type is dropped (it is only informative). Tool calls keep the
    model's name and arguments as text (an unknown or garbled call goes back to the model as a tool error); a
    missing or repeated call id is replaced by ``call_<n>``, because every tool output must answer exactly one
    call and providers reject histories where ids repeat.

    Args:
        text: The assistant's text, or ``None``.
        calls: ``(call_id, name, arguments)`` per tool call, as the server sent them.
        model: The model name the server reported.
        input_tokens: Prompt tokens, when reported.
        output_tokens: Completion tokens, when reported.

    Returns:
        The turn.
    """
    seen: set[str] = set()
    requests: list[ToolCallRequest] = []
    for number, (call_id, name, arguments) in enumerate(calls, start=1):
        identifier = call_id if isinstance(call_id, str) and call_id and call_id not in seen else f"call_{number}"
        while identifier in seen:
            identifier += "_"
        seen.add(identifier)
        tool = name if isinstance(name, str) else ("" if name is None else str(name))
        requests.append(ToolCallRequest(call_id=identifier, name=tool, arguments=encode_arguments(arguments)))
    return ModelTurn(
        text=text,
        tool_calls=tuple(requests),
        model=model if isinstance(model, str) else None,
        input_tokens=_count(input_tokens),
        output_tokens=_count(output_tokens),
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
