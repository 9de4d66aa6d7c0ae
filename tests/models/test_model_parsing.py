"""Converting each wire format into the neutral ParsedRequest."""

from __future__ import annotations

import pytest

from resilient_agents.models import Message, ToolCall, ToolSpec
from resilient_agents.models._parse import BadRequestError, parse_request

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_responses_input_items() -> None:
    body = {
        "model": "m",
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": "weather?"},
            {"role": "developer", "content": "extra rule"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": '{"city": "Oslo"}'},
            {"type": "function_call_output", "call_id": "c1", "output": [{"type": "input_text", "text": "cold"}]},
            {"type": "reasoning", "summary": []},
        ],
        "tools": [
            {"type": "function", "name": "get_weather", "description": "Weather", "parameters": SCHEMA},
            {"type": "web_search"},
        ],
    }

    parsed = parse_request("responses", body)

    assert parsed.instructions == "Be brief."
    assert parsed.messages == [
        Message(role="user", text="weather?"),
        Message(role="system", text="extra rule"),
        Message(role="assistant", text="Checking.", tool_calls=(ToolCall("get_weather", {"city": "Oslo"}, "c1"),)),
        Message(role="tool", text="cold", call_id="c1", tool_name="get_weather"),
    ]
    assert parsed.tools == [ToolSpec(name="get_weather", description="Weather", parameters=SCHEMA)]
    assert parsed.trailing_tool_outputs() == [parsed.messages[-1]]


def test_responses_string_input() -> None:
    parsed = parse_request("responses", {"model": "m", "input": "hello"})

    assert parsed.messages == [Message(role="user", text="hello")]
    assert parsed.instructions is None
    assert parsed.last_user_text == "hello"


def test_chat_messages_system_tool_calls_and_outputs() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Rule one."},
            {"role": "developer", "content": [{"type": "text", "text": "Rule two."}]},
            {"role": "user", "content": [{"type": "text", "text": "weather in Oslo?"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": "not json"}}
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "cold"},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}],
    }

    parsed = parse_request("chat", body)

    assert parsed.instructions == "Rule one.\n\nRule two."
    assert [m.role for m in parsed.messages] == ["user", "assistant", "tool"]
    assert parsed.messages[1].tool_calls == (ToolCall("get_weather", "not json", "t1"),)
    assert parsed.messages[1].tool_calls[0].arguments_dict == {}
    assert parsed.messages[2].tool_name == "get_weather"
    assert parsed.tools == [ToolSpec(name="get_weather", parameters=SCHEMA)]


def test_anthropic_blocks() -> None:
    body = {
        "model": "claude",
        "system": [{"type": "text", "text": "Be kind."}],
        "messages": [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "tu1", "name": "get_weather", "input": {"city": "Oslo"}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": "cold"}]},
        ],
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": SCHEMA}],
    }

    parsed = parse_request("anthropic", body)

    assert parsed.instructions == "Be kind."
    assert parsed.messages == [
        Message(role="user", text="weather?"),
        Message(role="assistant", text="Let me check.", tool_calls=(ToolCall("get_weather", {"city": "Oslo"}, "tu1"),)),
        Message(role="tool", text="cold", call_id="tu1", tool_name="get_weather"),
    ]
    assert parsed.tools[0].required == ("city",)


@pytest.mark.parametrize(
    ("api", "body", "message"),
    [
        ("chat", {"model": "m"}, "'messages' must be a list"),
        ("chat", {"messages": ["text"]}, "must be an object"),
        ("anthropic", {"messages": {"role": "user"}}, "'messages' must be a list"),
        ("responses", {"input": 42}, "'input' must be"),
        ("responses", {"input": "x", "tools": "none"}, "'tools' must be a list"),
    ],
)
def test_wrong_shapes_raise_bad_request(api: str, body: dict[str, object], message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        parse_request(api, body)  # type: ignore[arg-type]


def test_tool_call_argument_helpers() -> None:
    call = ToolCall("f", {"a": 1})

    assert call.arguments_json == '{"a": 1}'
    assert ToolCall("f", '{"a": 1}').arguments_dict == {"a": 1}
    assert ToolCall("f", "[1]").arguments_dict == {}
