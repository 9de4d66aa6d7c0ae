"""Many tasks of one handler awaiting durable work at once: gathered runs, guardrails, nested runs, tools.

The Restate Python SDK lost wake-ups when several tasks awaited different durable futures (an invocation
stalled until the engine's inactivity timeout) and replayed concurrent tasks in a different order than
they first ran (a journal mismatch). ``resilient_agents._progress`` fixes both; these tests hold it to
that: every invocation completes, in the always-replay mode too, with each model request sent once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from resilient_agents.models import ParsedRequest, Reply
from resilient_agents.models.reply import Fault
from resilient_agents.models.request import Responder
from resilient_agents.testing import AgentTestEnv

from .conftest import app_env_factory, count

pytestmark = pytest.mark.engine

TOPICS = ["tides", "comets", "glaciers", "volcanoes", "coral"]


class TopicModel(Responder):
    """Answers by what the request is, not by arrival order (the runs' requests arrive in any order)."""

    def respond(self, request: ParsedRequest) -> Reply | Fault:
        if request.tool("lookup") is None:
            return Reply.say("ok")  # The guardrail agent.
        outputs = request.trailing_tool_outputs()
        if outputs:
            return Reply.say(f"summary: {outputs[-1].text}")
        return Reply.call("lookup", topic=request.last_user_text or "")


@pytest.fixture
def runs_env(agent_env: Callable[..., AgentTestEnv], gate: Path) -> Callable[..., AgentTestEnv]:
    make = app_env_factory(agent_env, "tests.apps.concurrent_runs:app", gate)
    return lambda **kwargs: make(model=TopicModel(), **kwargs)


def _check_invocations(env: AgentTestEnv, gate: Path, runs: int) -> None:
    for number in range(runs):
        response = env.call("Fanout/research", TOPICS, timeout=120)
        assert response.status_code == 200, response.text
        assert response.json() == [f"summary: facts about {topic}" for topic in TOPICS]
        # Per run: the guardrail's model call and the researcher's two; each sent exactly once.
        assert env.llm_requests() == 3 * len(TOPICS) * (number + 1)
        assert count(gate, "lookup-") == len(TOPICS) * (number + 1)
    log = (env.base_dir / "service.log").read_text()
    assert "(598)" not in log and "(570)" not in log, log[-3000:]
    rows = env.query(
        "SELECT j.id, j.name, count(*) AS n FROM sys_journal j WHERE j.name != '' "
        "AND j.entry_type LIKE 'Command%' GROUP BY j.id, j.name HAVING count(*) > 1"
    )
    assert rows == [], f"step names repeated within an invocation: {rows}"


def test_gathered_runs_with_guardrails_and_tools_complete(runs_env: Callable[..., AgentTestEnv], gate: Path) -> None:
    _check_invocations(runs_env(), gate, runs=50)


def test_gathered_runs_replay_deterministically(runs_env: Callable[..., AgentTestEnv], gate: Path) -> None:
    _check_invocations(runs_env(always_replay=True), gate, runs=20)
