"""Render a neutral :class:`Reply` (and errors) into Responses, Chat Completions and Anthropic wire bodies.

Ids are counter-based per server (``resp_0001``, ``msg_0001``, ``fc_0001``, ``call_0001``...), never random,
so a test run always produces the same ids.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from resilient_agents.models.reply import Reply, ToolCall
from resilient_agents.models.request import ApiName, ParsedRequest

FALLBACK_MODEL_NAME = "offline-model"
_CHARS_PER_TOKEN = 4


class IdFactory:
    """Thread-safe, deterministic id generator: one counter per prefix."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: defaultdict[str, int] = defaultdict(int)

    def next(self, prefix: str, separator: str = "_") -> str:
        """Return the next id for ``prefix``, e.g. ``resp_0001``.

        Args:
            prefix: The id prefix.
            separator: What goes between prefix and number.

        Returns:
            The new id.
        """
        with self._lock:
            self._counters[prefix] += 1
            number = self._counters[prefix]
        return f"{prefix}{separator}{number:04d}"


def render_reply(api: ApiName, reply: Reply, request: ParsedRequest, ids: IdFactory) -> dict[str, Any]:
    """Render a reply into the response body of the given API.

    Args:
        api: The API the request came in on.
        reply: The responder's reply.
        request: The parsed request (for the model name, tools and token estimates).
        ids: The server's id generator.

    Returns:
        The JSON-ready response body.
    """
    if api == "responses":
        return _render_responses(reply, request, ids)
    if api == "chat":
        return _render_chat(reply, request, ids)
    return _render_anthropic(reply, request, ids)


def openai_error(message: str, error_type: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """Build an OpenAI-style error body.

    Args:
        message: The human-readable message.
        error_type: The error type, e.g. ``invalid_request_error``.
        code: The machine-readable code.
        param: The offending request parameter, if any.

    Returns:
        The JSON-ready body ``{"error": {...}}``.
    """
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def anthropic_error(message: str, error_type: str) -> dict[str, Any]:
    """Build an Anthropic-style error body.

    Args:
        message: The human-readable message.
        error_type: The error type, e.g. ``rate_limit_error``.

    Returns:
        The JSON-ready body ``{"type": "error", "error": {...}}``.
    """
    return {"type": "error", "error": {"type": error_type, "message": message}}


def estimate_tokens(text: str) -> int:
    """Estimate a token count from text length (about four characters a token, at least one).

    Args:
        text: The text.

    Returns:
        The estimated token count.
    """
    return max(1, len(text) // _CHARS_PER_TOKEN)


def _model_name(reply: Reply, request: ParsedRequest) -> str:
    return reply.model or request.model or FALLBACK_MODEL_NAME


def _token_counts(reply: Reply, request: ParsedRequest) -> tuple[int, int]:
    parts = [request.instructions or ""]
    for message in request.messages:
        parts.append(message.text)
        parts.extend(call.arguments_json for call in message.tool_calls)
    output = (reply.text or "") + "".join(call.name + call.arguments_json for call in reply.tool_calls)
    estimated = estimate_tokens("".join(parts)), estimate_tokens(output)
    return (
        estimated[0] if reply.input_tokens is None else reply.input_tokens,
        estimated[1] if reply.output_tokens is None else reply.output_tokens,
    )


def _call_id(call: ToolCall, ids: IdFactory, prefix: str = "call") -> str:
    return call.call_id if call.call_id else ids.next(prefix)


# --- Responses API -------------------------------------------------------------------------------------------


def _render_responses(reply: Reply, request: ParsedRequest, ids: IdFactory) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if reply.text is not None or not reply.tool_calls:
        output.append(_responses_message(reply.text or "", ids))
    output.extend(_responses_function_call(call, ids) for call in reply.tool_calls)
    input_tokens, output_tokens = _token_counts(reply, request)
    raw = request.raw
    now = int(time.time())
    return {
        "id": ids.next("resp"),
        "object": "response",
        "created_at": now,
        "completed_at": now,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": raw.get("instructions"),
        "metadata": raw.get("metadata") or {},
        "model": _model_name(reply, request),
        "output": output,
        "parallel_tool_calls": raw.get("parallel_tool_calls", True),
        "previous_response_id": raw.get("previous_response_id"),
        "temperature": raw.get("temperature"),
        "top_p": raw.get("top_p"),
        "tool_choice": raw.get("tool_choice", "auto"),
        "tools": raw.get("tools") or [],
        "text": raw.get("text") or {"format": {"type": "text"}},
        "truncation": raw.get("truncation", "disabled"),
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        },
    }


def _responses_message(text: str, ids: IdFactory) -> dict[str, Any]:
    return {
        "type": "message",
        "id": ids.next("msg"),
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def _responses_function_call(call: ToolCall, ids: IdFactory) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": ids.next("fc"),
        "call_id": _call_id(call, ids),
        "name": call.name,
        "arguments": call.arguments_json,
        "status": "completed",
    }


# --- Chat Completions API ------------------------------------------------------------------------------------


def _render_chat(reply: Reply, request: ParsedRequest, ids: IdFactory) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text if reply.text is not None else (None if reply.tool_calls else ""),
        "refusal": None,
        "annotations": [],
    }
    if reply.tool_calls:
        message["tool_calls"] = [_chat_tool_call(call, ids) for call in reply.tool_calls]
    input_tokens, output_tokens = _token_counts(reply, request)
    return {
        "id": ids.next("chatcmpl", separator="-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": _model_name(reply, request),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
        "system_fingerprint": None,
    }


def _chat_tool_call(call: ToolCall, ids: IdFactory) -> dict[str, Any]:
    return {
        "id": _call_id(call, ids),
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments_json},
    }


# --- Anthropic Messages API ----------------------------------------------------------------------------------


def _render_anthropic(reply: Reply, request: ParsedRequest, ids: IdFactory) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.text or not reply.tool_calls:
        content.append({"type": "text", "text": reply.text or ""})
    content.extend(
        {"type": "tool_use", "id": _call_id(call, ids, "toolu"), "name": call.name, "input": call.arguments_dict}
        for call in reply.tool_calls
    )
    input_tokens, output_tokens = _token_counts(reply, request)
    return {
        "id": ids.next("msg"),
        "type": "message",
        "role": "assistant",
        "model": _model_name(reply, request),
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
