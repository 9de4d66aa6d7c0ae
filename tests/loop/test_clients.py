"""The three model clients against our model server speaking each wire format."""

from __future__ import annotations

from datetime import timedelta

import pytest
from restate.exceptions import RetryableError

from resilient_agents.errors import ModelUnavailableError, TerminalAgentError
from resilient_agents.loop import (
    ChatMessage,
    LoopModelSettings,
    ModelClient,
    ModelTurn,
    ToolCallRequest,
    ToolDefinition,
)
from resilient_agents.models import Fault, ModelServer, Reply, ScriptedModel, ToolCall

from .conftest import make_client

SETTINGS = LoopModelSettings(model="scripted-model", temperature=0.25, max_tokens=300)
WEATHER = ToolDefinition(
    name="get_weather",
    description="Get the weather.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
HISTORY = [
    ChatMessage(role="user", text="Weather in Oslo and Rome?"),
    ChatMessage(
        role="assistant",
        tool_calls=(
            ToolCallRequest(call_id="c1", name="get_weather", arguments='{"city":"Oslo"}'),
            ToolCallRequest(call_id="c2", name="get_weather", arguments='{"city":"Rome"}'),
        ),
        agent="weather",
    ),
    ChatMessage(role="tool", text="cold", call_id="c1", tool_name="get_weather"),
    ChatMessage(role="tool", text="warm", call_id="c2", tool_name="get_weather"),
    ChatMessage(role="assistant", text="Oslo is cold, Rome is warm."),
    ChatMessage(role="user", text="Thanks!"),
]


async def test_text_answer(client: ModelClient, scripted: ScriptedModel) -> None:
    scripted.push(Reply.say("Hello there."))
    turn = await client.complete("Be nice.", [ChatMessage(role="user", text="Hi")], [WEATHER], SETTINGS)
    assert turn == ModelTurn(
        text="Hello there.",
        model="scripted-model",
        input_tokens=turn.input_tokens,
        output_tokens=turn.output_tokens,
    )
    assert turn.input_tokens and turn.output_tokens
    request = scripted.received[0]
    assert request.instructions == "Be nice."
    assert request.model == "scripted-model"
    assert [(m.role, m.text) for m in request.messages] == [("user", "Hi")]
    assert request.tools[0].name == "get_weather"
    assert request.tools[0].required == ("city",)


async def test_parallel_tool_calls_become_neutral_calls(client: ModelClient, scripted: ScriptedModel) -> None:
    scripted.push(
        Reply.calls(
            ToolCall("get_weather", {"city": "Oslo"}, call_id="call_a"),
            ToolCall("get_weather", {"city": "Rome"}, call_id="call_b"),
        )
    )
    turn = await client.complete("", [ChatMessage(role="user", text="Oslo, Rome?")], [WEATHER], SETTINGS)
    assert [(c.call_id, c.name) for c in turn.tool_calls] == [("call_a", "get_weather"), ("call_b", "get_weather")]
    assert [c.arguments.replace(" ", "") for c in turn.tool_calls] == ['{"city":"Oslo"}', '{"city":"Rome"}']
    assert not turn.text


async def test_history_reaches_the_model_unchanged(client: ModelClient, scripted: ScriptedModel) -> None:
    scripted.push(Reply.say("You're welcome."))
    await client.complete("Be nice.", HISTORY, [WEATHER], SETTINGS)
    messages = scripted.received[0].messages
    assert [m.role for m in messages] == ["user", "assistant", "tool", "tool", "assistant", "user"]
    calls = messages[1].tool_calls
    assert [(c.call_id, c.name, c.arguments_dict) for c in calls] == [
        ("c1", "get_weather", {"city": "Oslo"}),
        ("c2", "get_weather", {"city": "Rome"}),
    ]
    assert [(m.call_id, m.text, m.tool_name) for m in messages[2:4]] == [
        ("c1", "cold", "get_weather"),
        ("c2", "warm", "get_weather"),
    ]
    assert messages[4].text == "Oslo is cold, Rome is warm."
    assert messages[5].text == "Thanks!"


@pytest.mark.parametrize(
    ("api", "temperature_key", "max_tokens_key"),
    [
        ("responses", "temperature", "max_output_tokens"),
        ("chat", "temperature", "max_tokens"),
        ("anthropic", "temperature", "max_tokens"),
    ],
)
async def test_settings_are_sent(
    server: ModelServer, scripted: ScriptedModel, api: str, temperature_key: str, max_tokens_key: str
) -> None:
    scripted.push(Reply.say("ok"))
    client = make_client(api, server)
    await client.complete("x", [ChatMessage(role="user", text="hi")], [], SETTINGS)
    await client.aclose()  # type: ignore[attr-defined]
    body = server.requests[0].body
    assert body[temperature_key] == 0.25
    assert body[max_tokens_key] == 300
    assert "tools" not in body


async def test_anthropic_headers_and_default_max_tokens(server: ModelServer, scripted: ScriptedModel) -> None:
    scripted.push(Reply.say("ok"))
    client = make_client("anthropic", server)
    await client.complete("sys", [ChatMessage(role="user", text="hi")], [], LoopModelSettings(model="claude"))
    await client.aclose()  # type: ignore[attr-defined]
    recorded = server.requests[0]
    assert recorded.path == "/v1/messages"
    assert recorded.headers["anthropic-version"] == "2023-06-01"
    assert "x-api-key" not in recorded.headers  # The server strips credentials from its log.
    assert recorded.body["max_tokens"] == 1024
    assert recorded.body["system"] == "sys"


async def test_rate_limit_is_retryable_with_retry_after(client: ModelClient, scripted: ScriptedModel) -> None:
    scripted.push(Fault.rate_limit(retry_after=2.0))
    with pytest.raises(RetryableError) as caught:
        await client.complete("", [ChatMessage(role="user", text="hi")], [], SETTINGS)
    assert caught.value.status_code == 429
    assert caught.value.retry_after == timedelta(seconds=2)


@pytest.mark.parametrize("fault", [Fault.server_error(503), Fault.malformed()], ids=["503", "malformed"])
async def test_server_errors_are_retryable(client: ModelClient, scripted: ScriptedModel, fault: Fault) -> None:
    scripted.push(fault)
    with pytest.raises(ModelUnavailableError):  # Retried with the step's backoff (see error_for_status).
        await client.complete("", [ChatMessage(role="user", text="hi")], [], SETTINGS)


@pytest.mark.parametrize("api", ["responses", "chat", "anthropic"])
async def test_client_errors_are_terminal(server: ModelServer, api: str) -> None:
    # A wrong base URL: the server answers 404, which no retry can fix.
    client = make_client(api, _WrongPath(server))  # type: ignore[arg-type]
    with pytest.raises(TerminalAgentError) as caught:
        await client.complete("", [ChatMessage(role="user", text="hi")], [], SETTINGS)
    await client.aclose()  # type: ignore[attr-defined]
    assert caught.value.status_code == 502  # Bad gateway: the upstream model server refused.
    assert "HTTP 404" in caught.value.message and "not retried" in caught.value.message


@pytest.mark.parametrize("api", ["responses", "chat", "anthropic"])
async def test_unreachable_server_is_retryable(api: str) -> None:
    with ModelServer(ScriptedModel()) as srv:
        address = _WrongPath(srv, path="")
        root, base = address.root_url, address.base_url
    stopped = _Fixed(root, base)  # The port is closed now.
    client = make_client(api, stopped)  # type: ignore[arg-type]
    with pytest.raises(ModelUnavailableError) as caught:
        await client.complete("", [ChatMessage(role="user", text="hi")], [], SETTINGS)
    await client.aclose()  # type: ignore[attr-defined]
    assert "unreachable" in str(caught.value)


class _Fixed:
    def __init__(self, root_url: str, base_url: str) -> None:
        self.root_url, self.base_url = root_url, base_url


class _WrongPath(_Fixed):
    def __init__(self, server: ModelServer, path: str = "/wrong") -> None:
        super().__init__(server.root_url + path, server.root_url + path + "/v1")
