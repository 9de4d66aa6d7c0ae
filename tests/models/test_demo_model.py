"""The offline demo model's rules, called directly on parsed requests (and once over each wire API)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from resilient_agents.models import (
    DEMO_MODEL_NAME,
    DemoModel,
    Message,
    ModelServer,
    ParsedRequest,
    Reply,
    ToolCall,
    ToolSpec,
)

WEATHER = ToolSpec(
    name="get_weather",
    description="Get the current weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
SEAT = ToolSpec(
    name="update_seat",
    description="Update the seat for a booking",
    parameters={
        "type": "object",
        "properties": {"confirmation_number": {"type": "string"}, "new_seat": {"type": "string"}},
        "required": ["confirmation_number", "new_seat"],
    },
)


def _request(*messages: Message, tools: tuple[ToolSpec, ...] = (WEATHER,)) -> ParsedRequest:
    return ParsedRequest(
        api="responses",
        model="anything",
        instructions="You are a helpful agent.",
        messages=list(messages),
        tools=list(tools),
        raw={},
    )


def _respond(model: DemoModel, request: ParsedRequest) -> Reply:
    reply = model.respond(request)
    assert isinstance(reply, Reply)
    assert reply.model == DEMO_MODEL_NAME
    return reply


def _user(text: str) -> Message:
    return Message(role="user", text=text)


def _called(name: str, **arguments: Any) -> tuple[Message, str]:
    call = ToolCall(name=name, arguments=arguments, call_id="call_1")
    return Message(role="assistant", tool_calls=(call,)), "call_1"


def test_weather_question_calls_get_weather_with_city() -> None:
    reply = _respond(DemoModel(), _request(_user("What is the weather in Detroit?")))

    assert reply.text is None
    assert reply.tool_calls == (ToolCall(name="get_weather", arguments={"city": "Detroit"}),)


@pytest.mark.parametrize(
    ("text", "city"),
    [
        ("Any weather news for New York City today?", "New York City"),
        ("I am in Paris. How is the weather?", "Paris"),
        ("what is the forecast for oslo?", "oslo"),
    ],
)
def test_city_is_extracted(text: str, city: str) -> None:
    reply = _respond(DemoModel(), _request(_user(text)))

    assert reply.tool_calls == (ToolCall(name="get_weather", arguments={"city": city}),)


def test_answer_to_a_question_is_taken_as_the_value() -> None:
    model = DemoModel()
    ask = _respond(model, _request(_user("How is the weather?")))
    assert ask.text == "To use get_weather I need the city. Which city?"

    reply = _respond(
        model, _request(_user("How is the weather?"), Message(role="assistant", text=ask.text), _user("Rome"))
    )

    assert reply.tool_calls == (ToolCall(name="get_weather", arguments={"city": "Rome"}),)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            json.dumps({"temperature": 22, "unit": "C", "conditions": "sunny", "city": "Detroit"}),
            "Result of get_weather: temperature: 22, unit: C, conditions: sunny, city: Detroit.",
        ),
        ("The weather in Detroit is 22°C and sunny", "The weather in Detroit is 22°C and sunny"),
        ("", "get_weather finished without output."),
    ],
)
def test_answers_from_tool_output(output: str, expected: str) -> None:
    call, call_id = _called("get_weather", city="Detroit")
    tool_output = Message(role="tool", text=output, call_id=call_id, tool_name="get_weather")

    reply = _respond(DemoModel(), _request(_user("What is the weather in Detroit?"), call, tool_output))

    assert reply.text == expected
    assert reply.tool_calls == ()


def test_answer_templates_format_json_fields_and_fall_back_on_missing_fields() -> None:
    model = DemoModel(answer_templates={"get_weather": "It is {temperature}°{unit} and {conditions} in {city}."})
    call, call_id = _called("get_weather", city="Detroit")

    def ask(output: dict[str, Any]) -> str | None:
        tool_output = Message(role="tool", text=json.dumps(output), call_id=call_id, tool_name="get_weather")
        return _respond(model, _request(_user("weather in Detroit?"), call, tool_output)).text

    full = ask({"temperature": 22, "unit": "C", "conditions": "sunny", "city": "Detroit"})
    partial = ask({"temperature": 22})

    assert full == "It is 22°C and sunny in Detroit."
    assert partial == "Result of get_weather: temperature: 22."


def test_missing_argument_is_asked_for_then_filled_from_the_next_turn() -> None:
    model = DemoModel()
    first_user = _user("can you change my seat to 10b?")

    question = _respond(model, _request(first_user, tools=(WEATHER, SEAT)))

    assert question.tool_calls == ()
    assert question.text is not None and question.text.endswith("Which confirmation number?")
    follow_up = _request(
        first_user, Message(role="assistant", text=question.text), _user("5666"), tools=(WEATHER, SEAT)
    )
    call = _respond(model, follow_up)

    assert call.tool_calls == (
        ToolCall(name="update_seat", arguments={"confirmation_number": "5666", "new_seat": "10b"}),
    )


def test_all_arguments_in_one_message() -> None:
    request = _request(_user("Please change my seat to 12A, confirmation number AB4568."), tools=(SEAT,))

    reply = _respond(DemoModel(), request)

    assert reply.tool_calls[0].arguments == {"confirmation_number": "AB4568", "new_seat": "12A"}


def test_numbers_enums_defaults_and_nullable_arguments() -> None:
    tool = ToolSpec(
        name="book_table",
        description="Book a restaurant table",
        parameters={
            "type": "object",
            "properties": {
                "guests": {"type": "integer"},
                "area": {"type": "string", "enum": ["inside", "terrace"]},
                "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "currency": {"type": "string", "default": "EUR"},
            },
            "required": ["guests", "area", "note", "currency"],
        },
    )

    reply = _respond(DemoModel(), _request(_user("book a table for 4 on the Terrace"), tools=(tool,)))

    assert reply.tool_calls[0].arguments == {"guests": 4, "area": "terrace", "note": None, "currency": "EUR"}


def test_no_matching_tool_introduces_the_demo_model() -> None:
    reply = _respond(DemoModel(), _request(_user("hello there"), tools=(WEATHER, SEAT)))

    assert reply.text is not None
    assert reply.text.startswith("(offline demo model) I can help with: get_weather, update_seat.")
    assert "not a language model" in reply.text


def test_no_tools_at_all_still_answers_plainly() -> None:
    reply = _respond(DemoModel(), _request(_user("What is the weather in Detroit?"), tools=()))

    assert reply.text is not None and reply.text.startswith("(offline demo model)")
    assert "no tools" in reply.text


def test_rules_run_first_and_none_falls_through() -> None:
    seen: list[str | None] = []

    def skip(request: ParsedRequest) -> Reply | None:
        seen.append(request.last_user_text)
        return None

    def greet(request: ParsedRequest) -> Reply | None:
        return Reply.say("Hi, I am the demo.") if request.last_user_text == "hi" else None

    model = DemoModel(rules=[skip, greet])

    greeting = _respond(model, _request(_user("hi")))
    weather = _respond(model, _request(_user("What is the weather in Detroit?")))

    assert greeting.text == "Hi, I am the demo."
    assert weather.tool_calls[0].name == "get_weather"
    assert seen == ["hi", "What is the weather in Detroit?"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/chat/completions",
            {
                "model": "gpt-x",
                "messages": [{"role": "user", "content": "What is the weather in Detroit?"}],
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": WEATHER.name,
                            "description": WEATHER.description,
                            "parameters": WEATHER.parameters,
                        },
                    }
                ],
            },
        ),
        (
            "/v1/messages",
            {
                "model": "claude-x",
                "max_tokens": 50,
                "messages": [{"role": "user", "content": "What is the weather in Detroit?"}],
                "tools": [
                    {"name": WEATHER.name, "description": WEATHER.description, "input_schema": WEATHER.parameters}
                ],
            },
        ),
    ],
)
def test_demo_over_the_wire_reports_offline_demo_model(
    demo_server: ModelServer, path: str, body: dict[str, Any]
) -> None:
    response = httpx.post(f"{demo_server.root_url}{path}", json=body)

    payload = response.json()
    assert response.status_code == 200
    assert payload["model"] == DEMO_MODEL_NAME
    assert "Detroit" in json.dumps(payload)
