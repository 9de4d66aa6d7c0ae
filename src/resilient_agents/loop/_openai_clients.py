"""Model clients for the OpenAI Responses API and the Chat Completions API. Private module.

Both use the official :class:`openai.AsyncOpenAI` with ``max_retries=0``: Restate retries the journaled model
step, so every retry is durable and visible, and the client never sleeps on its own.

They send through the client's public ``post`` (its base URL, key, headers, timeout and errors) with a body
they build themselves as plain JSON, and read the answer as JSON: ``responses.create`` would first walk the
whole body against the API's typed-dict unions and then build typed objects from the answer, which cost more
CPU per turn than the rest of the loop together (``scripts/bench scale``), for a body that is already plain
JSON and an answer of which a few fields are read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import openai

from ._client import build_turn
from ._errors import ModelAnswerError, classify_client_error
from ._settings import LoopModelSettings
from ._types import ChatMessage, ModelTurn, ToolDefinition

DEFAULT_TIMEOUT_SECONDS = 120.0


def _openai_client(
    client: openai.AsyncOpenAI | None, base_url: str | None, api_key: str | None, timeout: float
) -> openai.AsyncOpenAI:
    if client is not None:
        return client.with_options(max_retries=0)
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout)


def _sampling(settings: LoopModelSettings, max_tokens_key: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        max_tokens_key: settings.max_tokens,
    }
    return {key: value for key, value in values.items() if value is not None}


async def _guarded_post(
    client: openai.AsyncOpenAI, path: str, body: dict[str, Any], parse: Callable[[Any], ModelTurn]
) -> ModelTurn:
    """POST a JSON body to the API and parse the JSON answer; failures become retryable or terminal errors."""
    try:
        return parse(await client.post(path, body=body, cast_to=object))
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
        settings: LoopModelSettings,
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
        return await _guarded_post(self._client, "/responses", kwargs, _responses_turn)

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
    output = _get(response, "output")
    if not isinstance(output, list):
        raise ModelAnswerError("Responses API", "it has no 'output' list")
    texts: list[str] = []
    calls: list[tuple[Any, Any, Any]] = []
    for item in output:
        kind = _get(item, "type")
        if kind == "message":
            texts.extend(_message_texts(_get(item, "content")))
        elif kind == "function_call":
            calls.append(_fields(item, "call_id", "name", "arguments"))
    usage = _get(response, "usage")
    return build_turn(
        text="".join(texts) if texts else None,
        calls=calls,
        model=_get(response, "model"),
        input_tokens=_get(usage, "input_tokens"),
        output_tokens=_get(usage, "output_tokens"),
    )


def _get(value: Any, name: str) -> Any:
    """A field of a JSON object of the answer; ``None`` when it is missing or the value is not an object."""
    return value.get(name) if isinstance(value, dict) else None


def _fields(item: Any, *names: str) -> tuple[Any, ...]:
    """Fields of a JSON object of the answer (a missing one is ``None``)."""
    return tuple(_get(item, name) for name in names)


def _message_texts(content: Any) -> list[str]:
    """The texts of a Responses API message; a refusal is the model's answer too."""
    texts: list[str] = []
    for part in content if isinstance(content, list) else ():
        kind = _get(part, "type")
        value = _get(part, "text") if kind == "output_text" else _get(part, "refusal")
        if kind in ("output_text", "refusal") and isinstance(value, str):
            texts.append(value)
    return texts


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
        settings: LoopModelSettings,
    ) -> ModelTurn:
        """Ask the model for its next step through Chat Completions (see :class:`ModelClient`)."""
        wire: list[dict[str, Any]] = [{"role": "system", "content": instructions}] if instructions else []
        wire.extend(_chat_message(message) for message in messages)
        kwargs: dict[str, Any] = {"model": settings.model, "messages": wire, **_sampling(settings, "max_tokens")}
        if tools:
            kwargs["tools"] = [_chat_tool(tool) for tool in tools]
            if settings.parallel_tool_calls is not None:
                kwargs["parallel_tool_calls"] = settings.parallel_tool_calls
        return await _guarded_post(self._client, "/chat/completions", kwargs, _chat_turn)

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
    choices = _get(completion, "choices")
    if not isinstance(choices, list) or not choices:
        raise ModelAnswerError("Chat Completions", "it has no 'choices'")
    message = _get(choices[0], "message")
    if not isinstance(message, dict):
        raise ModelAnswerError("Chat Completions", "its first choice has no 'message'")
    calls: list[tuple[Any, Any, Any]] = []
    for call in _get(message, "tool_calls") or ():
        function = _get(call, "function")
        if (_get(call, "type") or "function") == "function" and isinstance(function, dict):
            calls.append((_get(call, "id"), *_fields(function, "name", "arguments")))
    content = _get(message, "content")
    refusal = _get(message, "refusal")
    text = content if isinstance(content, str) else (refusal if isinstance(refusal, str) else None)
    usage = _get(completion, "usage")
    return build_turn(
        text=text,
        calls=calls,
        model=_get(completion, "model"),
        input_tokens=_get(usage, "prompt_tokens"),
        output_tokens=_get(usage, "completion_tokens"),
    )
