"""Model outages: a turn rides out a minute of 503s, and a permanent failure ends it after the window.

restate-sdk paces a ``RetryableError`` on the invocation's retry policy (100-500 ms for our services),
so 10 attempts used to end a turn within five seconds of an outage. Transient model failures now retry
with the step's own exponential backoff (500 ms doubling to 30 s) for up to 10 minutes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from resilient_agents.cli import main
from resilient_agents.models import ParsedRequest, Reply
from resilient_agents.models.reply import Fault
from resilient_agents.models.request import Responder
from resilient_agents.testing import AgentTestEnv, wait_until

from .conftest import ROOT, app_env_factory

pytestmark = pytest.mark.engine


class Outage(Responder):
    """HTTP 503 until ``lift()`` or until ``seconds`` have passed since the first request, then an answer."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.failures = 0
        self._first: float | None = None
        self._lifted = threading.Event()

    def lift(self) -> None:
        self._lifted.set()

    def respond(self, request: ParsedRequest) -> Reply | Fault:
        now = time.monotonic()
        self._first = self._first if self._first is not None else now
        over = self._lifted.is_set() or (self.seconds is not None and now - self._first >= self.seconds)
        if over:
            return Reply.say("The weather in Detroit is sunny.")
        self.failures += 1
        return Fault.server_error(503, message="The model is overloaded (outage drill).")


@pytest.fixture
def outage_env(agent_env: Callable[..., AgentTestEnv], gate: Path) -> Callable[..., AgentTestEnv]:
    return app_env_factory(agent_env, "tests.apps.gated_weather:app", gate)


def test_a_minute_of_503s_is_ridden_out_with_one_journaled_model_step(
    outage_env: Callable[..., AgentTestEnv], capsys: pytest.CaptureFixture[str]
) -> None:
    model = Outage(seconds=60)
    env = outage_env(model=model)
    invocation = env.send("Agent/run", "What is the weather in Detroit?")
    wait_until(lambda: model.failures >= 3, timeout=60, what="three failed model requests")
    # While it waits, status says so: which step, which attempt, the last error.
    assert main(["status", "--admin", env.engine.admin_url]) == 0
    out = capsys.readouterr().out
    assert f"{invocation} Agent/run: waiting for the model (llm: WeatherAgent #1): attempt" in out, out
    assert "503" in out and "127.0.0.1" in out, out

    response = env.attach(invocation, timeout=150)
    assert response.status_code == 200, response.text
    assert "sunny" in response.text
    # Backoff, not a hammer: about 8 requests in a minute (0.5 s doubling), not hundreds.
    assert 4 <= model.failures <= 12, model.failures
    steps = [e.name for e in env.journal(invocation) if e.name]
    assert steps.count("llm: WeatherAgent #1") == 1, steps


def test_a_permanent_500_fails_terminally_after_the_window_naming_the_host(
    agent_env: Callable[..., AgentTestEnv], gate: Path
) -> None:
    model = Outage(seconds=None)
    env = agent_env(
        "tests.apps.gated_weather:app",
        model=model,
        env={"GATE_DIR": str(gate), "OUTAGE_WINDOW_SECONDS": "3"},
        pythonpath=[ROOT],
    )
    response = env.call("Agent/run", "What is the weather in Detroit?", timeout=120)
    assert response.status_code == 500, response.text
    assert "503" in response.text and "127.0.0.1" in response.text, response.text
    assert model.failures >= 2
    assert env.invocation_status(response.headers.get("x-restate-id", "")) in (None, "completed")
