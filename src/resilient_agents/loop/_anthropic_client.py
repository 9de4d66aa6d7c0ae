"""A model client for the Anthropic Messages API over plain httpx. Private module.

No ``anthropic`` package is needed: the client posts JSON to ``<base_url>/v1/messages`` and reads the
answer's ``text`` and ``tool_use`` blocks. It never retries by itself; Restate retries the journaled step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from ._client import build_turn, decode_arguments
from ._errors import ModelAnswerError, classify_client_error, error_for_status
from ._settings import LoopModelSettings
from ._types import ChatMessage, ModelTurn, ToolDefinition

ANTHROPIC_API_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024


class AnthropicClient:
    """A :class:`ModelClient` for Anthropic's Messages API (``POST /v1/messages``).

    Example:
        >>> client = AnthropicClient(api_key="sk-ant-...")  # doctest: +SKIP

    Args:
        api_key: Sent as ``x-api-key``; never logged or journaled.
        base_url: The server's root URL (``ANTHROPIC_BASE_URL``), e.g. :attr:`ModelServer.root_url` in tests;
            requests go to ``<base_url>/v1/messages`` (a trailing ``/v1`` is dropped first).
        timeout: Seconds before one request times out (Restate then retries the step).
        anthropic_version: The ``anthropic-version`` header.
        http_client: An httpx client to use instead of a new one.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = ANTHROPIC_API_URL,
        timeout: float = 120.0,
        anthropic_version: str = ANTHROPIC_VERSION,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        root = base_url.rstrip("/")
        if root.endswith("/v1"):  # The Anthropic SDK's base URL has no /v1; accept one given all the same.
            root = root[: -len("/v1")]
        self._url = root + "/v1/messages"
        self._headers = {"x-api-key": api_key, "anthropic-version": anthropic_version}
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)

    async def complete(
        self,
        instructions: str,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolDefinition],
        settings: LoopModelSettings,
    ) -> ModelTurn:
        """Ask the model for its next step through the Messages API (see :class:`ModelClient`)."""
        body = _request_body(instructions, messages, tools, settings)
        try:
            response = await self._http.post(self._url, json=body, headers=self._headers)
            if response.status_code >= 400:
                raise error_for_status(response.status_code, _error_message(response), response.headers, url=self._url)
            return _turn(response.json())
        except Exception as error:
            mapped = classify_client_error(error)
            if mapped is error:
                raise
            raise mapped from error

    async def aclose(self) -> None:
        """Close the underlying HTTP client."""
        await self._http.aclose()


def _request_body(
    instructions: str, messages: Sequence[ChatMessage], tools: Sequence[ToolDefinition], settings: LoopModelSettings
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": settings.model,
        "max_tokens": settings.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": _wire_messages(messages),
    }
    if instructions:
        body["system"] = instructions
    if settings.temperature is not None:
        body["temperature"] = settings.temperature
    if settings.top_p is not None:
        body["top_p"] = settings.top_p
    if tools:
        body["tools"] = [
            {"name": tool.name, "description": tool.description, "input_schema": tool.parameters} for tool in tools
        ]
        if settings.parallel_tool_calls is False:
            body["tool_choice"] = {"type": "auto", "disable_parallel_tool_use": True}
    return body


def _wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Convert the history; consecutive items of one role merge, since the API wants roles to alternate."""
    wire: list[dict[str, Any]] = []
    for message in messages:
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"].extend(blocks)
        else:
            wire.append({"role": role, "content": blocks})
    return wire


def _blocks(message: ChatMessage) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [{"type": "tool_result", "tool_use_id": message.call_id or "", "content": message.text}]
    blocks: list[dict[str, Any]] = [{"type": "text", "text": message.text}] if message.text else []
    blocks.extend(
        {"type": "tool_use", "id": call.call_id, "name": call.name, "input": decode_arguments(call.arguments)}
        for call in message.tool_calls
    )
    return blocks


def _turn(body: Any) -> ModelTurn:
    if not isinstance(body, dict) or not isinstance(body.get("content"), list):
        raise ModelAnswerError("Anthropic Messages API", "it has no 'content' list")
    texts: list[str] = []
    calls: list[tuple[Any, Any, Any]] = []
    for block in body["content"]:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            calls.append((block.get("id"), block.get("name"), block.get("input")))
    usage: dict[str, Any] = body["usage"] if isinstance(body.get("usage"), dict) else {}
    return build_turn(
        text="".join(texts) if texts else None,
        calls=calls,
        model=body.get("model"),
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
    )


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return response.text[:500]
