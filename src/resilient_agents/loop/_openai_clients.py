"""Model clients for the OpenAI Responses API and the Chat Completions API. Private module.

Both use the official :class:`openai.AsyncOpenAI` with ``max_retries=0``: Restate retries the journaled model
step, so every retry is durable and visible, and the client never sleeps on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import openai

from ._client import encode_arguments
from ._errors import classify_client_error
from ._settings import ModelSettings
from ._types import ChatMessage, ModelTurn, ToolCallRequest, ToolDefinition

DEFAULT_TIMEOUT_SECONDS = 120.0


def _openai_client(
    client: openai.AsyncOpenAI | None, base_url: str | None, api_key: str | None, timeout: float
) -> openai.AsyncOpenAI:
    if client is not None:
        return client.with_options(max_retries=0)
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout)


def _sampling(settings: ModelSettings, max_tokens_key: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        max_tokens_key: settings.max_tokens,
    }
    return {key: value for key, value in values.items() if value is not None}


async def _guarded_create(create: Any, kwargs: dict[str, Any], parse: Callable[[Any], ModelTurn]) -> ModelTurn:
    """Call an OpenAI ``create`` method and parse its answer; failures become retryable or terminal errors."""
    try:
        return parse(await create(**kwargs))
    except Exception as error:
        mapped = classify_client_error(error)
        if mapped is error:
            raise
        raise mapped from error


class _OpenAIClient:
    """What both OpenAI wire-format clients share: an ``openai.AsyncOpenAI`` with its retries switched off.

    Args:
        client: An OpenAI client to use (its retries are switched off); built from the other arguments when
            ``None``.
        base_url: The API's base URL; ``None`` for OpenAI's own (or ``OPENAI_BASE_URL``).
        api_key: The key; ``None`` reads ``OPENAI_API_KEY``.
        timeout: Seconds before one request times out (Restate then retries the step).
    """

    def __init__(
        self,
        client: openai.AsyncOpenAI | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._client = _openai_client(client, base_url, api_key, timeout)


class OpenAIResponsesClient(_OpenAIClient):
    """A :class:`ModelClient` for the OpenAI Responses API (``POST /v1/responses``).

    Example:
        >>> client = OpenAIResponsesClient(base_url="http://127.0.0.1:8123/v1", api_key="unused")

    Takes ``client`` (an ``openai.AsyncOpenAI``, its retries switched off) or ``base_url``, ``api_key`` and
    ``timeout`` to build one; ``None`` values fall back to ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``.
    """

    async def complete(
        self,
        instructions: str,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolDefinition],
        settings: ModelSettings,
    ) -> ModelTurn:
        """Ask the model for its next step through the Responses API (see :class:`ModelClient`)."""
        kwargs: dict[str, Any] = {
            "model": settings.model,
            "instructions": instructions,
            "input": [item for message in messages for item in _responses_items(message)],
            **_sampling(settings, "max_output_tokens"),
        }
        if tools:
            kwargs["tools"] = [_responses_tool(tool) for tool in tools]
            if settings.parallel_tool_calls is not None:
                kwargs["parallel_tool_calls"] = settings.parallel_tool_calls
        return await _guarded_create(self._client.responses.create, kwargs, _responses_turn)

    async def aclose(self) -> None:
        """Close the underlying HTTP client."""
        await self._client.close()


def _responses_items(message: ChatMessage) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [{"type": "function_call_output", "call_id": message.call_id or "", "output": message.text}]
    items: list[dict[str, Any]] = []
    if message.text or (message.role == "user"):
        items.append({"role": message.role, "content": message.text})
    items.extend(
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments}
        for call in message.tool_calls
    )
    return items


def _responses_tool(tool: ToolDefinition) -> dict[str, Any]:
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.parameters,
        "strict": False,
    }


def _responses_turn(response: Any) -> ModelTurn:
    texts: list[str] = []
    calls: list[ToolCallRequest] = []
    for item in response.output:
        if item.type == "message":
            texts.extend(part.text for part in item.content if part.type == "output_text")
        elif item.type == "function_call":
            calls.append(ToolCallRequest(call_id=item.call_id, name=item.name, arguments=item.arguments or "{}"))
    usage = response.usage
    return ModelTurn(
        text="".join(texts) if texts else None,
        tool_calls=tuple(calls),
        model=response.model,
        input_tokens=usage.input_tokens if usage is not None else None,
        output_tokens=usage.output_tokens if usage is not None else None,
    )


class OpenAIChatClient(_OpenAIClient):
    """A :class:`ModelClient` for the Chat Completions API (``POST /v1/chat/completions``).

    Most OpenAI-compatible servers (vLLM, Ollama, LiteLLM) speak this API.

    Takes ``client`` (an ``openai.AsyncOpenAI``, its retries switched off) or ``base_url``, ``api_key`` and
    ``timeout`` to build one; ``None`` values fall back to ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``.
    """

    async def complete(
        self,
        instructions: str,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolDefinition],
        settings: ModelSettings,
    ) -> ModelTurn:
        """Ask the model for its next step through Chat Completions (see :class:`ModelClient`)."""
        wire: list[dict[str, Any]] = [{"role": "system", "content": instructions}] if instructions else []
        wire.extend(_chat_message(message) for message in messages)
        kwargs: dict[str, Any] = {"model": settings.model, "messages": wire, **_sampling(settings, "max_tokens")}
        if tools:
            kwargs["tools"] = [_chat_tool(tool) for tool in tools]
            if settings.parallel_tool_calls is not None:
                kwargs["parallel_tool_calls"] = settings.parallel_tool_calls
        return await _guarded_create(self._client.chat.completions.create, kwargs, _chat_turn)

    async def aclose(self) -> None:
        """Close the underlying HTTP client."""
        await self._client.close()


def _chat_message(message: ChatMessage) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.call_id or "", "content": message.text}
    if message.role == "user" or not message.tool_calls:
        return {"role": message.role, "content": message.text}
    return {
        "role": "assistant",
        "content": message.text or None,
        "tool_calls": [
            {"id": call.call_id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ],
    }


def _chat_tool(tool: ToolDefinition) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def _chat_turn(completion: Any) -> ModelTurn:
    if not completion.choices:
        raise ValueError("the completion has no choices")
    message = completion.choices[0].message
    calls = tuple(
        ToolCallRequest(
            call_id=call.id, name=call.function.name, arguments=encode_arguments(call.function.arguments or "{}")
        )
        for call in message.tool_calls or ()
        if call.type == "function"
    )
    usage = completion.usage
    return ModelTurn(
        text=message.content,
        tool_calls=calls,
        model=completion.model,
        input_tokens=usage.prompt_tokens if usage is not None else None,
        output_tokens=usage.completion_tokens if usage is not None else None,
    )
