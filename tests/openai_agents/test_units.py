"""Unit tests of the SDK integration's pure parts: journal records, error sorting, input parsing, config."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import openai
import pydantic
import pytest
import restate
from agents.exceptions import UserError
from agents.items import ModelResponse
from agents.usage import Usage
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage
from restate.exceptions import RetryableError

from resilient_agents.config import ModelConfig
from resilient_agents.errors import (
    ConfigurationError,
    InvalidInputError,
    ModelUnavailableError,
    ResilientAgentsError,
    TerminalAgentError,
)
from resilient_agents.openai_agents import durable_context, durable_tool
from resilient_agents.openai_agents._errors import classify_model_error
from resilient_agents.openai_agents._journal import JournaledModelResponse
from resilient_agents.openai_agents._service import parse_message


def _response() -> ModelResponse:
    # As the openai client builds them: only the fields present in the JSON are "set".
    call = ResponseFunctionToolCall.construct(
        type="function_call", call_id="c1", name="get_weather", arguments='{"city":"Detroit"}', id="fc_1"
    )
    message = ResponseOutputMessage.construct(
        type="message",
        id="m1",
        role="assistant",
        status="completed",
        content=[{"type": "output_text", "text": "hi", "annotations": []}],
    )
    return ModelResponse(
        output=[call, message],
        usage=Usage(requests=1, input_tokens=3, output_tokens=4, total_tokens=7),
        response_id="r1",
    )


def test_journal_round_trip_keeps_follow_up_input_identical() -> None:
    original = _response()
    stored = JournaledModelResponse.from_model_response(original).model_dump_json()
    restored = JournaledModelResponse.model_validate_json(stored).to_model_response()
    assert restored.to_input_items() == original.to_input_items()
    assert "status" not in restored.to_input_items()[0]  # Not sent by the provider, so not added.
    assert restored.usage.total_tokens == 7 and restored.response_id == "r1"
    assert '"schema_version":1' in stored


def test_journal_rejects_unknown_schema_version() -> None:
    with pytest.raises(ValueError):
        JournaledModelResponse.model_validate({"schema_version": 99, "output": [], "usage": {}})


def _status_error(status: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    request = httpx.Request("POST", "http://127.0.0.1/v1/responses")
    response = httpx.Response(status, headers=headers or {}, request=request)
    return openai.APIStatusError("boom", response=response, body=None)


def test_rate_limit_is_retried_after_the_providers_delay() -> None:
    mapped = classify_model_error(_status_error(429, {"retry-after": "1"}))
    assert isinstance(mapped, RetryableError)
    assert mapped.retry_after == timedelta(seconds=1)


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_server_errors_are_retried_with_the_steps_backoff(status: int) -> None:
    # Not a RetryableError: restate-sdk would pace that on the invocation's retry policy (see error_for_status).
    mapped = classify_model_error(_status_error(status), "api.example.com")
    assert isinstance(mapped, ModelUnavailableError)
    assert "api.example.com" in str(mapped) and str(status) in str(mapped)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_terminal(status: int) -> None:
    mapped = classify_model_error(_status_error(status))
    assert isinstance(mapped, TerminalAgentError) and isinstance(mapped, restate.TerminalError)
    assert "not retried" in str(mapped)


def test_connection_errors_are_retried_and_sdk_usage_errors_are_terminal() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/v1/responses")
    assert isinstance(classify_model_error(openai.APIConnectionError(request=request)), ModelUnavailableError)
    assert isinstance(classify_model_error(UserError("bad tool")), TerminalAgentError)
    garbled = json.JSONDecodeError("Expecting value", '{"out', 5)
    assert isinstance(classify_model_error(garbled), ModelUnavailableError)  # An unreadable body.
    # The same request would fail the same way: a schema bug, a bug in code.
    with pytest.raises(pydantic.ValidationError) as invalid:
        pydantic.TypeAdapter(int).validate_python("x")
    assert isinstance(classify_model_error(invalid.value), TerminalAgentError)
    assert isinstance(classify_model_error(TypeError("unsupported operand")), TerminalAgentError)
    unknown = RuntimeError("surprise")
    assert classify_model_error(unknown) is unknown  # Unknown failures are retried by Restate as they are.


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty request body"),
        (b"  ", "empty request body"),
        (b"{", "not valid JSON"),
        (b"\xff", "not valid JSON"),
        (b"42", "got a JSON number"),
        (b"true", "got a JSON boolean"),
        (b"[]", "got a JSON array"),
        (b"{}", "got a JSON object"),
        (b"null", "got a JSON null"),
        (b'"   "', "the message is empty"),
        (b'"abcdef"', "maximum is 5"),
    ],
)
def test_parse_message_rejects_bad_input_with_a_clear_400(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as raised:
        parse_message(body, max_chars=5)
    assert raised.value.status_code == 400


def test_parse_message_accepts_a_json_string() -> None:
    assert parse_message(b'"What is the weather in Detroit?"') == "What is the weather in Detroit?"


def test_config_without_any_key_says_how_to_fix_it() -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        ModelConfig.from_env({})


def test_config_picks_backend_and_wire_api() -> None:
    openai_cfg = ModelConfig.from_env({"OPENAI_API_KEY": "sk-secret"})
    assert (openai_cfg.backend, openai_cfg.api, openai_cfg.model) == ("openai", "responses", "gpt-4.1-mini")
    compatible = ModelConfig.from_env({"OPENAI_API_KEY": "x", "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"})
    assert compatible.api == "chat"  # Most compatible servers speak only Chat Completions.
    anthropic = ModelConfig.from_env({"ANTHROPIC_API_KEY": "a", "RESILIENT_AGENTS_MODEL": "claude-x"})
    assert (anthropic.backend, anthropic.api, anthropic.model) == ("anthropic", "messages", "claude-x")
    offline = ModelConfig.from_env(
        {"RESILIENT_AGENTS_OFFLINE_MODEL_URL": "http://127.0.0.1:1/v1", "OPENAI_API_KEY": "k"}
    )
    assert offline.is_offline and offline.model == "offline-demo"
    assert "OFFLINE DEMO MODEL" in offline.describe()


def test_config_never_shows_the_key() -> None:
    cfg = ModelConfig.from_env({"OPENAI_API_KEY": "sk-very-secret"})
    assert "sk-very-secret" not in repr(cfg) and "sk-very-secret" not in cfg.describe()


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"OPENAI_API_KEY": "k", "RESILIENT_AGENTS_API": "grpc"}, "RESILIENT_AGENTS_API"),
        ({"OPENAI_API_KEY": "k", "RESILIENT_AGENTS_MODEL_TIMEOUT": "soon"}, "RESILIENT_AGENTS_MODEL_TIMEOUT"),
    ],
)
def test_config_rejects_invalid_values(env: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        ModelConfig.from_env(env)


def test_durable_context_outside_a_handler_explains_itself() -> None:
    with pytest.raises(ResilientAgentsError, match="outside a Restate handler"):
        durable_context()


async def test_durable_tool_is_a_plain_tool_outside_a_durable_run() -> None:
    calls: list[str] = []

    @durable_tool
    def shout(text: str) -> str:
        """Shout the text.

        Args:
            text: What to shout.
        """
        calls.append(text)
        return text.upper()

    assert shout.name == "shout"
    assert shout.params_json_schema["required"] == ["text"]
    assert "Shout the text" in shout.description
    from agents.tool_context import ToolContext

    ctx = ToolContext(context=None, tool_name="shout", tool_call_id="c1", tool_arguments='{"text": "hi"}')
    assert await shout.on_invoke_tool(ctx, '{"text": "hi"}') == "HI"
    assert calls == ["hi"]


def test_retry_settings_per_agent_and_run() -> None:
    from resilient_agents.openai_agents import DurableSettings, RetrySettings

    patient = RetrySettings(max_attempts=50, initial_interval=timedelta(seconds=2))
    settings = DurableSettings(llm_retry_by_agent={"Researcher": patient})
    assert settings.llm_retry_for("Researcher") is patient
    assert settings.llm_retry_for("WeatherAgent") == DurableSettings().llm_retry
    assert DurableSettings().llm_retry.max_attempts is None  # Bounded by the 10-minute window instead.
    options = patient.run_options(restate.serde.BytesSerde())
    assert options.max_attempts == 50 and options.initial_retry_interval == timedelta(seconds=2)


def test_answers_are_text_or_json_for_structured_output() -> None:
    from pydantic import BaseModel

    from resilient_agents.openai_agents._service import answer_text

    class Forecast(BaseModel):
        city: str
        temperature_c: int

    assert answer_text("plain words") == "plain words"
    assert answer_text(Forecast(city="Detroit", temperature_c=22)) == '{"city": "Detroit", "temperature_c": 22}'
