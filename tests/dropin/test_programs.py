"""The programs of ``programs/`` in two copies differing only by the import line (acceptance 3 of issue 8).

The durable copy, run with ``python -m resilient_agents.run``, prints the same output, sends the same model
requests and runs each tool as often as the unchanged program. Killed (``kill -9``) while a chosen model call is in
flight and run again, it re-attaches to its invocation and finishes with only that request sent twice and no tool
run twice.
"""

from __future__ import annotations

import re
import signal
from typing import Any

import pytest

from resilient_agents.engine import RestateServer, query
from resilient_agents.models import ModelServer
from resilient_agents.testing import wait_until

from .conftest import Outcome, Programs, bodies, finished_steps, normalized
from .examples_model import ExamplesModel

pytestmark = pytest.mark.engine

SEQUENTIAL = ["hello_tools", "routing", "input_guardrails", "message_filter", "customer_service"]
"""Programs whose model requests go one after the other (their request logs are compared in order)."""
CONCURRENT = ["agents_as_tools", "parallelization"]
"""Programs with concurrent model requests (nested runs as parallel tools, asyncio.gather)."""

HOLD_AT = {
    "hello_tools": 3,  # After the tool ran: the tool must not run again.
    "routing": 3,  # The second turn, after a handoff.
    "input_guardrails": 3,  # The guardrail's own agent, on the second input.
    "message_filter": 5,  # After the tool; the handoff with its input filter comes next.
    "customer_service": 8,  # After update_seat changed the run context: the change must survive.
    "agents_as_tools": 3,  # The second of two nested agent runs, called as parallel tools.
    "parallelization": 2,  # One of three gathered runs.
}
"""Which model request (by arrival) is in flight when the durable program is killed."""

_REFERENCE: dict[str, Outcome] = {}


@pytest.fixture
def reference(programs: Programs) -> Any:
    """The unchanged program's outcome (run once per program and module, with its own marker files)."""

    def get(name: str) -> Outcome:
        if name not in _REFERENCE:
            outcome = Programs(programs.tmp_path / "plain", programs.pycache, None).run("plain", name)
            assert outcome.returncode == 0, outcome.stderr[-3000:]
            _REFERENCE[name] = outcome
        return _REFERENCE[name]

    return get


@pytest.mark.parametrize("name", SEQUENTIAL + CONCURRENT)
def test_durable_copy_behaves_like_the_plain_program(programs: Programs, reference: Any, name: str) -> None:
    plain = reference(name)
    durable = programs.run("durable", name)
    assert durable.returncode == 0, durable.stderr[-3000:]
    assert durable.stdout == plain.stdout
    assert durable.effects == plain.effects
    if name in SEQUENTIAL:
        assert durable.requests == plain.requests
    else:
        assert normalized(durable.requests) == normalized(plain.requests)
    assert re.search(r"started invocation inv_\w+", durable.stderr), durable.stderr


@pytest.mark.parametrize("name", SEQUENTIAL + CONCURRENT)
def test_killed_durable_copy_resumes_where_it_stopped(
    programs: Programs, reference: Any, engine: RestateServer, name: str
) -> None:
    plain = reference(name)
    hold = HOLD_AT[name]
    model = ExamplesModel(hold_at=hold)
    with ModelServer(model) as server:
        first = programs.start("durable", name, server)
        try:
            wait_until(model.held.is_set, timeout=120, what=f"model request #{hold}")
            invocation = _invocation_of(engine, name)
            # Requests sent beside the held one (gathered or parallel runs) must be journaled before the kill. The
            # concurrent programs run no tool step, so there each finished step is one of those model calls.
            wait_until(lambda: finished_steps(engine, invocation) >= hold - 1, what="the other model calls")
            effects_before = programs.effects()
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=30)
        finally:
            model.release()
            if first.poll() is None:
                first.kill()
        assert programs.effects() == effects_before
        again = programs.run("durable", name, server)
        requests = bodies(server)

    assert again.returncode == 0, again.stderr[-3000:]
    assert f"re-attached to invocation {invocation}" in again.stderr
    assert again.stdout == plain.stdout
    assert again.effects == plain.effects  # No tool ran twice.
    # Exactly one request was sent twice: the one in flight at the kill.
    assert len(requests) == len(plain.requests) + 1
    held = requests.pop(hold - 1)
    assert held in requests
    if name in SEQUENTIAL:
        assert requests == plain.requests
        assert held == plain.requests[hold - 1]
    else:
        assert normalized(requests) == normalized(plain.requests)


def _invocation_of(engine: RestateServer, name: str) -> str:
    target = f"Run_{name}/main"

    def find() -> str | None:
        rows = query(
            engine.admin_url,
            f"SELECT id FROM sys_invocation WHERE target = '{target}' AND status != 'completed'",
        )
        return str(rows[0]["id"]) if rows else None

    found: str = wait_until(find, what=f"the invocation of {target}")
    return found
