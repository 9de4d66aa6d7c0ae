"""Streamed answers (``"stream": true``): a :class:`Reply` as Server-Sent Events of the Responses API or of
Chat Completions, in the shapes the ``openai`` client parses.

The text goes out in word-sized deltas. The whole answer is rendered first (the same ids and usage as the
non-streamed body), so a streamed reply and a plain one describe the same response.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from resilient_agents.models._render import IdFactory, render_reply
from resilient_agents.models.reply import Reply
from resilient_agents.models.request import ApiName, ParsedRequest

STREAM_APIS: frozenset[ApiName] = frozenset({"responses", "chat"})
"""The APIs the offline server can stream; Anthropic Messages cannot be streamed."""

_WORDS = re.compile(r"\s*\S+\s*|\s+")


def text_chunks(text: str) -> list[str]:
    """Split ``text`` into word-sized deltas that join back to exactly ``text``."""
    return _WORDS.findall(text)


def stream_frames(api: ApiName, reply: Reply, request: ParsedRequest, ids: IdFactory) -> Iterator[bytes]:
    """The SSE frames of a streamed answer, in order; ``reply.hold`` runs after the first text delta was sent.

    Args:
        api: ``"responses"`` or ``"chat"`` (see :data:`STREAM_APIS`).
        reply: The responder's reply.
        request: The parsed request.
        ids: The server's id generator.

    Yields:
        One encoded SSE frame at a time; the caller writes and flushes each before asking for the next.
    """
    body = render_reply(api, reply, request, ids)
    events = _responses_events(body) if api == "responses" else _chat_events(body, request)
    held = reply.hold is None
    for event, is_text_delta in events:
        yield _frame(event, named=api == "responses")
        if is_text_delta and not held:
            held = True
            assert reply.hold is not None
            reply.hold()  # Runs after the frame above was written: the client has seen the first delta.
    if api == "chat":
        yield b"data: [DONE]\n\n"


def _frame(event: dict[str, Any], *, named: bool) -> bytes:
    data = json.dumps(event, ensure_ascii=False)
    prefix = f"event: {event['type']}\n" if named else ""
    return f"{prefix}data: {data}\n\n".encode()


# --- Responses API -------------------------------------------------------------------------------------------


def _responses_events(body: dict[str, Any]) -> Iterator[tuple[dict[str, Any], bool]]:
    sequence = iter(range(1_000_000))
    pending = {**body, "status": "in_progress", "output": [], "usage": None, "completed_at": None}
    yield {"type": "response.created", "response": pending, "sequence_number": next(sequence)}, False
    yield {"type": "response.in_progress", "response": pending, "sequence_number": next(sequence)}, False
    for index, item in enumerate(body["output"]):
        for event, is_text in _responses_item_events(index, item):
            yield {**event, "sequence_number": next(sequence)}, is_text
    yield {"type": "response.completed", "response": body, "sequence_number": next(sequence)}, False


def _responses_item_events(index: int, item: dict[str, Any]) -> Iterator[tuple[dict[str, Any], bool]]:
    where = {"item_id": item["id"], "output_index": index}
    if item["type"] == "function_call":
        started = {**item, "arguments": "", "status": "in_progress"}
        yield {"type": "response.output_item.added", "output_index": index, "item": started}, False
        yield {"type": "response.function_call_arguments.delta", **where, "delta": item["arguments"]}, False
        done = {"type": "response.function_call_arguments.done", **where, "arguments": item["arguments"]}
        yield {**done, "name": item["name"]}, False
        yield {"type": "response.output_item.done", "output_index": index, "item": item}, False
        return
    part = item["content"][0]
    text = part["text"]
    yield {"type": "response.output_item.added", "output_index": index, "item": {**item, "content": []}}, False
    at = {**where, "content_index": 0}
    empty = {**part, "text": ""}
    yield {"type": "response.content_part.added", **at, "part": empty}, False
    for chunk in text_chunks(text):
        yield {"type": "response.output_text.delta", **at, "delta": chunk, "logprobs": []}, True
    yield {"type": "response.output_text.done", **at, "text": text, "logprobs": []}, False
    yield {"type": "response.content_part.done", **at, "part": part}, False
    yield {"type": "response.output_item.done", "output_index": index, "item": item}, False


# --- Chat Completions ----------------------------------------------------------------------------------------


def _chat_events(body: dict[str, Any], request: ParsedRequest) -> Iterator[tuple[dict[str, Any], bool]]:
    choice = body["choices"][0]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": body["id"],
            "object": "chat.completion.chunk",
            "created": body["created"],
            "model": body["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }

    yield chunk({"role": "assistant", "content": ""}), False
    for piece in text_chunks(message.get("content") or ""):
        yield chunk({"content": piece}), True
    for index, call in enumerate(message.get("tool_calls") or []):
        yield chunk({"tool_calls": [{"index": index, **call}]}), False
    yield chunk({}, choice["finish_reason"]), False
    options = request.raw.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        yield {**chunk({}), "choices": [], "usage": body["usage"]}, False
