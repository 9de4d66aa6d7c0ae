"""``ModelConfig.from_env``: every combination of settings, what each path builds from it, and the error hints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import httpx
import openai
import pytest

from resilient_agents._durable import classify_model_error, error_for_status, not_found_hint
from resilient_agents.config import NO_KEY, OFFLINE_URL_ENV, ModelConfig, model_configured
from resilient_agents.errors import ConfigurationError, ModelUnavailableError, TerminalAgentError
from resilient_agents.loop import AnthropicClient, OpenAIChatClient, OpenAIResponsesClient
from resilient_agents.loop._configured import ConfiguredModelClient

OLLAMA = "http://localhost:11434/v1"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"OPENAI_API_KEY": "sk"}, ("openai", "responses", None, True, "gpt-4.1-mini")),
        ({"OPENAI_API_KEY": "sk", "OPENAI_BASE_URL": OLLAMA}, ("openai", "chat", OLLAMA, True, "gpt-4.1-mini")),
        ({"OPENAI_BASE_URL": OLLAMA}, ("openai", "chat", OLLAMA, False, "gpt-4.1-mini")),
        (
            {"ANTHROPIC_API_KEY": "a"},
            ("anthropic", "messages", "https://api.anthropic.com", True, "claude-sonnet-4-5"),
        ),
        (
            {"ANTHROPIC_BASE_URL": "http://127.0.0.1:4000/"},
            ("anthropic", "messages", "http://127.0.0.1:4000", False, "claude-sonnet-4-5"),
        ),
        ({"ANTHROPIC_API_KEY": "a", "RESILIENT_AGENTS_API": "chat"}, ("anthropic", "chat", None, True, None)),
        # OpenAI settings win over Anthropic's, a URL alone included ...
        ({"OPENAI_BASE_URL": OLLAMA, "ANTHROPIC_API_KEY": "a"}, ("openai", "chat", OLLAMA, False, None)),
        # ... unless the Messages API is asked for.
        (
            {"OPENAI_API_KEY": "sk", "ANTHROPIC_API_KEY": "a", "RESILIENT_AGENTS_API": "messages"},
            ("anthropic", "messages", None, True, None),
        ),
        ({"OPENAI_API_KEY": "sk", "RESILIENT_AGENTS_MODEL": "gpt-5"}, ("openai", "responses", None, True, "gpt-5")),
        (
            {"RESILIENT_AGENTS_OFFLINE_MODEL_URL": "http://127.0.0.1:1/v1", "OPENAI_API_KEY": "sk"},
            ("offline", "responses", "http://127.0.0.1:1/v1", True, "offline-demo"),
        ),
        ({"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "a"}, ("anthropic", "messages", None, True, None)),  # "" unset
    ],
)
def test_from_env_picks_backend_api_url_and_key(
    env: dict[str, str], expected: tuple[str, str, str | None, bool, str | None]
) -> None:
    backend, api, base_url, has_key, model = expected
    config = ModelConfig.from_env(env)
    assert (config.backend, config.api, config.has_key) == (backend, api, has_key)
    if base_url is not None:
        assert config.base_url == base_url
    if model is not None:
        assert config.model == model
    if not has_key:
        assert config.api_key == NO_KEY  # The clients need a value; it is not a secret.


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({}, "OPENAI_BASE_URL"),
        ({"OPENAI_API_KEY": "", "ANTHROPIC_BASE_URL": ""}, "no model is configured"),
        ({"OPENAI_API_KEY": "k", "RESILIENT_AGENTS_API": "grpc"}, "'responses', 'chat' or 'messages'"),
        ({"OPENAI_API_KEY": "k", "RESILIENT_AGENTS_API": "messages"}, "set ANTHROPIC_API_KEY"),
        ({"ANTHROPIC_API_KEY": "a", "RESILIENT_AGENTS_API": "responses"}, "Anthropic has no Responses API"),
        ({"OPENAI_API_KEY": "k", "RESILIENT_AGENTS_MODEL_TIMEOUT": "soon"}, "not a number"),
        ({"OPENAI_API_KEY": "k", "RESILIENT_AGENTS_MODEL_TIMEOUT": "0"}, "positive"),
    ],
)
def test_from_env_rejects_what_cannot_work(env: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        ModelConfig.from_env(env)


def test_model_configured_counts_a_base_url_alone() -> None:
    assert not model_configured({})
    assert not model_configured({"OPENAI_API_KEY": ""})
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        assert model_configured({name: "x"})


def test_describe_names_the_server_and_never_the_key() -> None:
    keyless = ModelConfig.from_env({"OPENAI_BASE_URL": OLLAMA, "RESILIENT_AGENTS_MODEL": "llama3.2"})
    assert keyless.describe() == (
        f"openai model 'llama3.2' via the chat API at {OLLAMA} without an API key (placeholder 'no-key' sent)"
    )
    secret = ModelConfig.from_env({"ANTHROPIC_API_KEY": "sk-ant-very-secret"})
    assert "sk-ant-very-secret" not in secret.describe() + repr(secret)
    assert "https://api.anthropic.com" in secret.describe()
    assert (
        "OFFLINE DEMO MODEL" in ModelConfig.from_env({"RESILIENT_AGENTS_OFFLINE_MODEL_URL": "http://x/v1"}).describe()
    )


@pytest.mark.parametrize(
    ("env", "wire", "url"),
    [
        ({"OPENAI_API_KEY": "sk"}, OpenAIResponsesClient, "https://api.openai.com/v1/"),
        ({"OPENAI_BASE_URL": OLLAMA}, OpenAIChatClient, OLLAMA + "/"),
        ({"ANTHROPIC_API_KEY": "a"}, AnthropicClient, "https://api.anthropic.com/v1/messages"),
        ({"ANTHROPIC_BASE_URL": "http://gw:4000/v1"}, AnthropicClient, "http://gw:4000/v1/messages"),
        ({"ANTHROPIC_API_KEY": "a", "RESILIENT_AGENTS_API": "chat"}, OpenAIChatClient, "https://api.anthropic.com/v1/"),
        (
            {"RESILIENT_AGENTS_OFFLINE_MODEL_URL": "http://127.0.0.1:1/v1", "RESILIENT_AGENTS_API": "messages"},
            AnthropicClient,
            "http://127.0.0.1:1/v1/messages",
        ),
    ],
)
async def test_loop_client_speaks_the_configured_api_with_the_configured_model(
    env: dict[str, str], wire: type, url: str
) -> None:
    client = ModelConfig.from_env({**env, "RESILIENT_AGENTS_MODEL": "m1"}).loop_client()
    assert isinstance(client, ConfiguredModelClient)
    assert isinstance(client.wrapped, wire) and client.model == "m1"
    inner = client.wrapped
    sent_to = inner._url if isinstance(inner, AnthropicClient) else str(inner._client.base_url)  # type: ignore[attr-defined]
    assert sent_to == url
    await client.aclose()


def test_sdk_path_gets_the_same_backend() -> None:
    keyless = ModelConfig.from_env({"OPENAI_BASE_URL": OLLAMA, "RESILIENT_AGENTS_MODEL": "llama3.2"})
    run_config = keyless.run_config()
    assert run_config.model == "llama3.2" and run_config.tracing_disabled
    assert str(keyless.client().base_url) == OLLAMA + "/" and keyless.client().api_key == NO_KEY
    # Anthropic's Messages API on the SDK path: its OpenAI-compatible Chat Completions endpoint, same key.
    anthropic = ModelConfig.from_env({"ANTHROPIC_API_KEY": "sk-ant", "ANTHROPIC_BASE_URL": "http://gw:4000"})
    assert anthropic.api == "messages"
    assert str(anthropic.client().base_url) == "http://gw:4000/v1/"
    assert anthropic.client().api_key == "sk-ant"
    provider = anthropic.model_provider()
    assert provider._use_responses is False  # type: ignore[attr-defined]


def test_importing_the_config_imports_neither_the_agents_sdk_nor_openai() -> None:
    code = "import sys, resilient_agents.config; print(sorted({'agents', 'openai'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _status_error(status: int, url: str) -> openai.APIStatusError:
    request = httpx.Request("POST", url)
    return openai.APIStatusError("not found", response=httpx.Response(status, request=request), body=None)


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("http://127.0.0.1:11434/chat/completions", "OPENAI_BASE_URL='http://127.0.0.1:11434/v1'"),
        ("http://gw:4000/openai/responses", "OPENAI_BASE_URL='http://gw:4000/openai/v1'"),
        ("http://gw:4000/anthropic/v1/messages", "Check ANTHROPIC_BASE_URL (now 'http://gw:4000/anthropic')"),
        ("http://127.0.0.1:11434/v1/chat/completions", "knows the model name"),
    ],
)
def test_a_404_is_terminal_and_names_the_url_with_a_hint(url: str, hint: str) -> None:
    mapped = classify_model_error(_status_error(404, url))
    assert isinstance(mapped, TerminalAgentError) and mapped.status_code == 502 and "HTTP 404" in str(mapped)
    assert url in str(mapped) and hint in str(mapped) and hint in not_found_hint(url)


def test_connection_failures_are_retried_and_name_the_url() -> None:
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/responses")
    try:
        raise openai.APIConnectionError(request=request) from httpx.ConnectError("refused", request=request)
    except openai.APIConnectionError as error:
        mapped = classify_model_error(error)
    assert isinstance(mapped, ModelUnavailableError)
    assert "http://127.0.0.1:9/v1/responses" in str(mapped) and "ConnectError('refused')" in str(mapped)
    timeout = classify_model_error(httpx.ReadTimeout("slow", request=request))
    assert isinstance(timeout, ModelUnavailableError) and "RESILIENT_AGENTS_MODEL_TIMEOUT" in str(timeout)
    bare = classify_model_error(httpx.ConnectError("refused"))  # Built without its request: no URL, no crash.
    assert isinstance(bare, ModelUnavailableError)


def test_error_for_status_keeps_a_given_host() -> None:
    error = error_for_status(404, "nope", {}, host="api.example.com", url="http://10.0.0.1/v1/responses")
    assert "api.example.com (http://10.0.0.1/v1/responses)" in str(error)


@pytest.mark.parametrize(
    ("env", "title", "detail"),
    [
        ({"OPENAI_BASE_URL": OLLAMA}, f"MODEL SERVER {OLLAMA} WITHOUT AN API KEY", "OPENAI_API_KEY is not set"),
        (
            {"ANTHROPIC_BASE_URL": "http://127.0.0.1:4000"},
            "MODEL SERVER http://127.0.0.1:4000 WITHOUT AN API KEY",
            "ANTHROPIC_API_KEY is not set",
        ),
    ],
)
def test_up_runs_a_base_url_without_key_as_a_real_backend_and_says_so(
    env: dict[str, str], title: str, detail: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from resilient_agents.cli._up import Stack

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    said: list[str] = []
    options = SimpleNamespace(project_dir=tmp_path, data_dir=tmp_path, model="llama3.2", api=None, offline=False)
    stack = Stack(options, said.append)  # type: ignore[arg-type]  # Only the model settings are read.

    service_env = stack._model_env()

    assert stack.model_server is None and OFFLINE_URL_ENV not in service_env  # Not the offline demo model.
    assert service_env["RESILIENT_AGENTS_MODEL"] == "llama3.2"
    text = "\n".join(said)
    assert title in text and detail in text and "no key is sent" in text and "'no-key'" in text
    assert "OFFLINE DEMO MODEL" not in text


def test_an_authentication_failure_points_at_the_key() -> None:
    mapped = classify_model_error(_status_error(401, "http://127.0.0.1:4000/v1/chat/completions"))
    assert isinstance(mapped, TerminalAgentError) and "Check the API key (OPENAI_API_KEY" in str(mapped)
