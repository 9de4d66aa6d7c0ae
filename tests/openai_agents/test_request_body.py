"""Durable model calls skip the openai client's request transform only where it would change nothing.

The bodies below are what the Agents SDK sends (messages, tool calls and outputs, images, files, reasoning,
hosted tools, structured output, omitted arguments): the short way must give exactly what the client's own
transform gives, and anything that is not plain JSON must go the client's way.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Annotated, Any

import openai.resources.responses.responses as responses_module
import pydantic
import pytest
from openai import NOT_GIVEN, omit
from openai._utils._transform import PropertyInfo, async_maybe_transform
from openai.types.beta import response_create_params as beta_params
from openai.types.chat import completion_create_params as chat_params
from openai.types.responses import response_create_params as responses_params
from openai.types.shared import Reasoning
from typing_extensions import TypedDict

from resilient_agents.openai_agents import _request_body
from resilient_agents.openai_agents._request_body import plain_body, plain_requests, renames_or_formats

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "The city"}, "days": {"type": ["integer", "null"]}},
    "required": ["city", "days"],
    "additionalProperties": False,
}

RESPONSES_BODY: dict[str, Any] = {
    "model": "gpt-4.1",
    "instructions": "Be brief.",
    "input": [
        {"role": "user", "content": "What is the weather in Detroit?"},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "And this picture?"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"},
                {"type": "input_file", "file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"},
            ],
        },
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thinking"}]},
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Let me check.", "annotations": [], "logprobs": []}],
        },
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Detroit"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": '{"temperature_c": 22}'},
        {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "q"}},
        {"role": "assistant", "content": "It is 22°C — sunny. ✓"},
    ],
    "tools": [
        {"type": "function", "name": "get_weather", "description": "Weather.", "parameters": SCHEMA, "strict": True},
        {"type": "web_search"},
        {"type": "file_search", "vector_store_ids": ["vs_1"], "max_num_results": 3},
    ],
    "tool_choice": {"type": "function", "name": "get_weather"},
    "parallel_tool_calls": True,
    "text": {"format": {"type": "json_schema", "name": "answer", "schema": SCHEMA, "strict": True}},
    "reasoning": {"effort": "low", "summary": "auto"},
    "include": ["reasoning.encrypted_content"],
    "metadata": {"session": "alice"},
    "temperature": 0.2,
    "top_p": None,
    "max_output_tokens": 512,
    "store": False,
    "truncation": "auto",
    "stream": False,
    "previous_response_id": omit,
    "prompt": omit,
    "service_tier": NOT_GIVEN,
}

CHAT_BODY: dict[str, Any] = {
    "model": "gpt-4.1",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "u"}}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "22"},
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}],
    "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": SCHEMA}},
    "stream_options": omit,
    "temperature": 0,
}


@pytest.mark.parametrize(
    ("body", "request_type"),
    [
        (RESPONSES_BODY, responses_params.ResponseCreateParamsNonStreaming),
        ({**RESPONSES_BODY, "stream": True}, responses_params.ResponseCreateParamsStreaming),
        ({**RESPONSES_BODY, "input": "just text"}, responses_params.ResponseCreateParamsNonStreaming),
        ({**RESPONSES_BODY, "reasoning": Reasoning(effort="low")}, responses_params.ResponseCreateParamsNonStreaming),
        (CHAT_BODY, chat_params.CompletionCreateParamsNonStreaming),
    ],
    ids=["responses", "responses-streaming", "responses-text-input", "responses-reasoning-model", "chat"],
)
def test_a_plain_body_is_what_the_clients_transform_makes_of_it(body: dict[str, Any], request_type: object) -> None:
    assert not renames_or_formats(request_type)
    transformed = asyncio.run(async_maybe_transform(body, request_type))
    assert plain_body(body) == transformed
    assert "previous_response_id" not in transformed and "service_tier" not in transformed


class _Item(pydantic.BaseModel):
    role: str
    content: str


@pytest.mark.parametrize(
    "odd",
    [
        _Item(role="user", content="a pydantic model"),
        ("a", "tuple"),
        {"role": "user", "content": omit},
        {1: "a non-string key"},
        datetime.date(2026, 11, 30),
    ],
    ids=["pydantic", "tuple", "nested-omit", "int-key", "date"],
)
def test_anything_but_plain_json_goes_the_clients_way(odd: object) -> None:
    assert plain_body({**RESPONSES_BODY, "input": [odd]}) is None
    assert plain_body("not a dict") is None
    assert plain_body({**RESPONSES_BODY, "metadata": {"when": datetime.date(2026, 11, 30)}}) is None


class _Renamed(TypedDict, total=False):
    card_id: Annotated[str, PropertyInfo(alias="cardID")]


class _Formatted(TypedDict, total=False):
    nested: list[dict[str, Annotated[datetime.date, PropertyInfo(format="iso8601")]]]
    when: _Renamed


def test_the_type_check_finds_renames_and_formats_at_any_depth() -> None:
    assert renames_or_formats(_Renamed)
    assert renames_or_formats(_Formatted)
    # A real one: the beta Responses API sends ``betas`` as the header-like key ``openai-beta``.
    assert renames_or_formats(beta_params.ResponseCreateParams)


def test_types_the_check_cannot_read_keep_the_clients_transform() -> None:
    class Unresolvable(TypedDict, total=False):
        field: NoSuchType  # type: ignore[name-defined]  # noqa: F821 - unresolvable on purpose.

    assert not _request_body._checked_free_of_renames(frozenset({Unresolvable}))
    assert _request_body._checked_free_of_renames(frozenset({responses_params.ResponseCreateParamsNonStreaming}))


def test_only_calls_inside_plain_requests_take_the_short_way() -> None:
    _request_body.install()
    wrapped = responses_module.async_maybe_transform
    assert wrapped is not async_maybe_transform  # Installed for the Responses API ...
    body = {**RESPONSES_BODY, "input": [{"role": "user", "content": "hi"}]}
    request_type = responses_params.ResponseCreateParamsNonStreaming
    with plain_requests():
        inside = asyncio.run(wrapped(body, request_type))
    outside = asyncio.run(wrapped(body, request_type))
    assert inside == outside
    assert inside["input"][0] is body["input"][0]  # ... the short way hands the plain items on as they are,
    assert outside["input"][0] is not body["input"][0]  # the client's transform rebuilds them.
