"""Issue 3, acceptance 5: a seat change that needs approval, on the real engine with the demo model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from resilient_agents.approvals._admin import list_pending
from resilient_agents.cli import main
from resilient_agents.models import DemoModel
from resilient_agents.testing import AgentTestEnv, wait_until

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
REQUEST = "please change my seat to 2a for booking 5666"


@pytest.fixture
def airline_env(tmp_path: Path) -> Iterator[Callable[[float], AgentTestEnv]]:
    envs: list[AgentTestEnv] = []

    def make(timeout_seconds: float) -> AgentTestEnv:
        env = AgentTestEnv(
            "examples.airline.agent:app",
            tmp_path / f"env{len(envs)}",
            model=DemoModel(),
            pythonpath=[ROOT],
            env={"AIRLINE_APPROVAL_TIMEOUT_SECONDS": str(timeout_seconds)},
        )
        envs.append(env)
        return env.start()

    yield make
    for env in envs:
        env.stop()


def _pending(env: AgentTestEnv) -> list[dict[str, Any]]:
    """The pending approvals of every tenant, read as ``approvals list`` reads them (the engine's SQL)."""
    return [entry.approval.model_dump(mode="json") for entry in list_pending(env.engine.admin_url)]


def test_approval_survives_a_restart_and_history_is_readable_while_waiting(
    airline_env: Callable[[float], AgentTestEnv], capsys: pytest.CaptureFixture[str]
) -> None:
    env = airline_env(3600)
    invocation = env.send("Airline/erin/message", REQUEST)
    pending = wait_until(lambda: _pending(env), what="the approval request")
    assert len(pending) == 1 and "2A" in pending[0]["title"]

    history = env.call("Airline/erin/history").json()  # Readable from outside while the turn waits.
    assert history["turn_running"] is True
    assert any(item.get("name") == "update_seat" for item in history["pending_items"])
    urls = ["--ingress", env.engine.ingress_url, "--admin", env.engine.admin_url]
    assert main(["sessions", "show", "airline", "erin", *urls]) == 0
    shown = capsys.readouterr().out
    assert "update_seat" in shown and "state: waiting: for an approval by a person (times out at" in shown, shown

    env.kill_service()
    env.restart_service()
    assert main(["approvals", "list", "--admin", env.engine.admin_url]) == 0
    assert pending[0]["id"] in capsys.readouterr().out
    assert main(["approvals", "approve", pending[0]["id"], "--by", "carla", *urls]) == 0

    answer = env.attach(invocation)
    assert answer.status_code == 200, answer.text
    assert "Updated seat to 2A" in answer.json()
    assert _pending(env) == []
    assert env.call("Airline/erin/history").json()["context"]["seat_number"] == "2A"


def test_an_approval_left_past_its_timeout_is_rejected_and_the_customer_told(
    airline_env: Callable[[float], AgentTestEnv],
) -> None:
    env = airline_env(1.0)
    answer = env.call("Airline/frank/message", REQUEST)
    assert answer.status_code == 200, answer.text
    assert "not approved" in answer.json() and "nobody decided in time" in answer.json()
    assert _pending(env) == []
    assert env.call("Airline/frank/history").json()["context"]["seat_number"] is None
