"""The bank (native loop) configured from the environment alone: Anthropic Messages via ``ANTHROPIC_BASE_URL``, and
wrong base URLs that fail with the host named (issue 9, acceptance item 2)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from examples.bank.data import money as fmt

from resilient_agents.models import ParsedRequest, Reply
from resilient_agents.testing import AgentTestEnv, wait_until
from tests.config_proxy import RecordingProxy, closed_port

from .conftest import account

pytestmark = pytest.mark.engine

# AgentTestEnv configures an OpenAI-compatible server; empty values unset that (an empty value counts as unset).
NO_OPENAI = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "RESILIENT_AGENTS_API": "", "RESILIENT_AGENTS_MODEL": ""}


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    with RecordingProxy() as running:
        yield running


def quote_tool_outputs(request: ParsedRequest) -> Reply:
    return Reply.say(" | ".join(message.text for message in request.trailing_tool_outputs()))


def test_bank_turn_runs_on_the_anthropic_messages_api_of_anthropic_base_url(
    bank_env: Callable[..., AgentTestEnv], proxy: RecordingProxy
) -> None:
    env = bank_env(env={**NO_OPENAI, "ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": proxy.url})
    proxy.target = env.model_server.root_url
    env.scripted.push(Reply.call("transfer_to_banking_agent"), Reply.call("get_balance"), quote_tool_outputs)

    response = env.call("BankSession/alice/message", "What is my balance?")

    assert response.status_code == 200, response.text
    balance = json.loads(response.json())["balance"]
    assert balance == fmt(account(env, "alice").balance_cents)
    requests = env.model_server.requests
    assert [r.path for r in requests] == ["/v1/messages"] * 3  # Anthropic's own wire, not its OpenAI endpoint.
    assert {r.body["model"] for r in requests} == {"claude-sonnet-4-5"}  # The Anthropic default model.
    assert all(r.headers["anthropic-version"] == "2023-06-01" for r in requests)
    assert {seen.headers.get("x-api-key") for seen in proxy.seen} == {"sk-ant-test"}
    assert all("authorization" not in seen.headers for seen in proxy.seen)


def test_anthropic_base_url_without_a_key_sends_the_placeholder(
    bank_env: Callable[..., AgentTestEnv], proxy: RecordingProxy
) -> None:
    env = bank_env(env={**NO_OPENAI, "ANTHROPIC_BASE_URL": proxy.url + "/v1", "RESILIENT_AGENTS_MODEL": "local"})
    proxy.target = env.model_server.root_url
    env.scripted.push(Reply.say("Hello, how can I help?"))

    response = env.call("BankSession/bob/message", "hi")

    assert response.status_code == 200, response.text
    assert response.json() == "Hello, how can I help?"
    assert [seen.path for seen in proxy.seen] == ["/v1/messages"]  # A trailing /v1 is not doubled.
    assert proxy.seen[0].headers.get("x-api-key") == "no-key"
    assert env.model_server.requests[0].body["model"] == "local"


@pytest.mark.parametrize(
    ("settings", "hint"),
    [
        ({"OPENAI_BASE_URL": "{proxy}", "RESILIENT_AGENTS_API": "chat"}, "does not end in /v1"),
        ({**NO_OPENAI, "ANTHROPIC_BASE_URL": "{proxy}/anthropic"}, "Check ANTHROPIC_BASE_URL"),
    ],
    ids=["openai-base-url-without-v1", "anthropic-wrong-root"],
)
def test_a_404_from_the_model_server_fails_the_turn_naming_the_url(
    bank_env: Callable[..., AgentTestEnv], proxy: RecordingProxy, settings: dict[str, str], hint: str
) -> None:
    env = bank_env(env={name: value.format(proxy=proxy.url) for name, value in settings.items()})
    proxy.target = env.model_server.root_url

    invocation = env.send("BankSession/alice/message", "What is my balance?")
    response = env.attach(invocation)

    assert response.status_code == 502, response.text  # Terminal at once: no backoff for 10 minutes.
    assert proxy.host in response.text and "HTTP 404" in response.text and hint in response.text
    assert "not retried" in response.text
    assert env.invocation_status(invocation) == "completed"
    assert len(proxy.seen) == 1  # One request: a 404 is not retried.


def test_a_closed_port_shows_the_host_in_the_invocations_last_failure(bank_env: Callable[..., AgentTestEnv]) -> None:
    host = f"127.0.0.1:{closed_port()}"
    env = bank_env(env={"OPENAI_BASE_URL": f"http://{host}/v1"})

    invocation = env.send("BankSession/alice/message", "What is my balance?")

    failure = wait_until(lambda: _last_failure(env, invocation), what="the model step to fail")
    assert host in failure and "unreachable" in failure and "OPENAI_BASE_URL" in failure
    assert env.invocation_status(invocation) in ("backing-off", "running")  # Retried: the server may come back.


def _last_failure(env: AgentTestEnv, invocation: str) -> str:
    rows = env.query(f"SELECT last_failure FROM sys_invocation WHERE id = '{invocation}'")
    return str(rows[0].get("last_failure") or "") if rows else ""
