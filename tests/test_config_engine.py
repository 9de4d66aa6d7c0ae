"""The weather app (Agents SDK path) configured from the environment alone: an OpenAI-compatible base URL without
a key, an Anthropic base URL, and wrong base URLs that fail with the host named (issue 9, acceptance item 2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from resilient_agents.models import ParsedRequest, Reply
from resilient_agents.testing import AgentTestEnv, wait_until
from tests.config_proxy import RecordingProxy, closed_port

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[1]
WEATHER = "examples.weather.agent:app"
# AgentTestEnv configures OPENAI_API_KEY and the Responses API; empty values unset them.
NO_KEY_ENV = {"OPENAI_API_KEY": "", "RESILIENT_AGENTS_API": "", "RESILIENT_AGENTS_MODEL": "llama3.2"}


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    with RecordingProxy() as running:
        yield running


@pytest.fixture
def weather(tmp_path: Path) -> Iterator[list[AgentTestEnv]]:
    started: list[AgentTestEnv] = []
    yield started
    for env in started:
        env.stop()


def _start(started: list[AgentTestEnv], tmp_path: Path, env: dict[str, str]) -> AgentTestEnv:
    made = AgentTestEnv(WEATHER, tmp_path / "env", env={"WEATHER_API_DELAY": "0", **env}, pythonpath=[ROOT])
    started.append(made)
    return made.start()


def quote_tool_output(request: ParsedRequest) -> Reply:
    return Reply.say(f"Found: {request.trailing_tool_outputs()[-1].text}")


def test_weather_runs_on_an_openai_compatible_base_url_without_a_key(
    weather: list[AgentTestEnv], tmp_path: Path, proxy: RecordingProxy
) -> None:
    env = _start(weather, tmp_path, {**NO_KEY_ENV, "OPENAI_BASE_URL": proxy.url + "/v1"})
    proxy.target = env.model_server.root_url
    env.scripted.push(Reply.call("get_weather", city="Detroit"), quote_tool_output)

    response = env.call("Agent/run", "What is the weather in Detroit?")

    assert response.status_code == 200, response.text
    assert "Detroit" in response.json() and "sunny" in response.json()
    # Chat Completions (the default for a base URL of one's own), the configured model, and no secret: only the
    # placeholder key, which the openai client needs to send something.
    assert [seen.path for seen in proxy.seen] == ["/v1/chat/completions"] * 2
    assert {seen.headers.get("authorization") for seen in proxy.seen} == {"Bearer no-key"}
    assert {r.body["model"] for r in env.model_server.requests} == {"llama3.2"}


def test_weather_on_anthropic_base_url_uses_its_chat_completions_endpoint(
    weather: list[AgentTestEnv], tmp_path: Path, proxy: RecordingProxy
) -> None:
    env = _start(
        weather,
        tmp_path,
        {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "RESILIENT_AGENTS_API": "", "RESILIENT_AGENTS_MODEL": ""}
        | {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": proxy.url},
    )
    proxy.target = env.model_server.root_url
    env.scripted.push(Reply.say("It is sunny."))

    response = env.call("Agent/run", "What is the weather in Detroit?")

    assert response.status_code == 200, response.text
    assert [seen.path for seen in proxy.seen] == ["/v1/chat/completions"]  # The SDK path has no Messages client.
    assert proxy.seen[0].headers.get("authorization") == "Bearer sk-ant-test"
    assert env.model_server.requests[0].body["model"] == "claude-sonnet-4-5"


def test_a_base_url_without_v1_fails_the_turn_at_once_naming_the_url(
    weather: list[AgentTestEnv], tmp_path: Path, proxy: RecordingProxy
) -> None:
    env = _start(weather, tmp_path, {"OPENAI_BASE_URL": proxy.url})
    proxy.target = env.model_server.root_url

    invocation = env.send("Agent/run", "What is the weather in Detroit?")
    response = env.attach(invocation)

    assert response.status_code == 502, response.text  # Terminal: no backoff for 10 minutes.
    text = response.text
    assert f"{proxy.url}/responses" in text and "HTTP 404" in text and "not retried" in text
    assert f"OPENAI_BASE_URL='{proxy.url}/v1'" in text  # The usual fix, spelled out.
    assert env.invocation_status(invocation) == "completed"
    assert len(proxy.seen) == 1


def test_a_closed_port_shows_the_host_in_the_invocations_last_failure(
    weather: list[AgentTestEnv], tmp_path: Path
) -> None:
    host = f"127.0.0.1:{closed_port()}"
    env = _start(weather, tmp_path, {"OPENAI_BASE_URL": f"http://{host}/v1"})

    invocation = env.send("Agent/run", "What is the weather in Detroit?")

    failure = wait_until(lambda: _last_failure(env, invocation), what="the model step to fail")
    assert host in failure and "unreachable" in failure
    assert env.invocation_status(invocation) in ("backing-off", "running")  # Retried: the server may come back.


def _last_failure(env: AgentTestEnv, invocation: str) -> str:
    rows = env.query(f"SELECT last_failure FROM sys_invocation WHERE id = '{invocation}'")
    return str(rows[0].get("last_failure") or "") if rows else ""
