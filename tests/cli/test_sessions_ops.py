"""``sessions list`` and the state line of ``sessions show``: idle, waiting (for the model) or failing (a tool).

The engine-backed test uses the ``OpsSession`` object of ``tests/cli/ops_app.py``; it waits on what the commands
print, never on elapsed time. The journal reading behind "waiting for what" is also checked on journal rows as
restate-server 1.7.12 returns them (timer, call, approval request, open step).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from resilient_agents.cli import main
from resilient_agents.cli._invocations import _activity
from resilient_agents.models import ParsedRequest, Reply
from resilient_agents.models.reply import Fault
from resilient_agents.testing import AgentTestEnv, wait_until

ROOT = Path(__file__).resolve().parents[2]


class Model:
    """Answers ``hello`` to greetings, calls ``fetch_report`` when asked for a report, and 503s while down."""

    def __init__(self) -> None:
        self.down = threading.Event()
        self.failures = 0

    def respond(self, request: ParsedRequest) -> Reply | Fault:
        if self.down.is_set():
            self.failures += 1
            return Fault.server_error(503, message="The model is overloaded (ops drill).")
        outputs = request.trailing_tool_outputs()
        if outputs:
            return Reply.say(f"Here it is: {outputs[-1].text}")
        if "report" in (request.last_user_text or ""):
            return Reply.call("fetch_report", topic="q3")
        if "archive" in (request.last_user_text or ""):
            return Reply.call("slow_lookup", topic="fares")
        return Reply.say("hello there")


@pytest.fixture
def gate(tmp_path: Path) -> Path:
    directory = tmp_path / "gate"
    directory.mkdir()
    return directory


@pytest.mark.engine
def test_show_tells_idle_waiting_and_failing_and_list_finds_the_session(
    agent_env: Callable[..., AgentTestEnv], gate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = Model()
    env = agent_env("tests.cli.ops_app:app", model=model, env={"GATE_DIR": str(gate)}, pythonpath=[ROOT])
    urls = ["--ingress", env.engine.ingress_url, "--admin", env.engine.admin_url]

    def show() -> str:
        assert main(["sessions", "show", "x", "ann", "--object", "OpsSession", *urls]) == 0
        return capsys.readouterr().out

    def shown_once(text: str) -> Callable[[], str | None]:
        def check() -> str | None:
            out = show()
            return out if text in out else None

        return check

    assert env.call("OpsSession/ann/message", "hello").json() == "hello there"
    shown = show()
    assert "user: hello" in shown and "assistant: hello there" in shown  # The history, as before.
    assert "state: idle: no turn is running" in shown, shown

    # The model is down: the turn waits for it, retrying; show says which step, which attempt, the error.
    model.down.set()
    turn = env.send("OpsSession/ann/message", "are you there?")
    shown = wait_until(shown_once("attempt 3"), timeout=60, what="the model retried")
    state = next(line for line in shown.splitlines() if line.startswith("state:"))
    assert state.startswith("state: waiting: for the model (llm: helper #1): attempt"), state
    assert "503" in state and "overloaded" in state and f"[turn {turn}]" in state, state
    model.down.clear()
    assert env.attach(turn).json() == "hello there"
    assert "state: idle" in show()

    # A tool keeps failing: the session is failing, with the step and the error.
    (gate / "fail-tool").touch()
    turn = env.send("OpsSession/ann/message", "the report please")
    shown = wait_until(shown_once("state: failing"), timeout=60, what="the tool failing")
    state = next(line for line in shown.splitlines() if line.startswith("state:"))
    assert "in step 'tool: fetch_report'" in state and "report store unreachable" in state, state
    assert ("next try" in state or "running now" in state) and f"[turn {turn}]" in state, state

    # sessions list finds the session, its messages and the turn that holds it.
    assert main(["sessions", "list", "--service", "OpsSession", "--json", "--admin", env.engine.admin_url]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["key"], listed["turn"]) == ("ann", turn), listed
    assert listed["messages"] >= 5 and listed["last_activity"], listed
    assert main(["sessions", "list", "--admin", env.engine.admin_url]) == 0  # Every session object.
    out = capsys.readouterr().out
    assert "OpsSession" in out and "ann" in out and turn in out, out

    (gate / "fail-tool").unlink()
    assert env.attach(turn).json() == "Here it is: report on q3: all good"
    assert "state: idle" in show()

    # A tool that takes its time: the session is running, and show names the step in flight.
    turn = env.send("OpsSession/ann/message", "look in the archive")
    wait_until(lambda: (gate / "started-slow").exists(), timeout=60, what="the slow tool to start")
    # (Wait for the text: the step shows once the SDK has sent it to the engine, a moment after it starts.)
    shown = wait_until(shown_once("step 'tool: slow_lookup' in flight"), timeout=60, what="the step in flight")
    assert f"state: running: step 'tool: slow_lookup' in flight [turn {turn}]" in shown, shown
    (gate / "release-slow").touch()
    assert env.attach(turn).json() == "Here it is: archive entry about fares"
    assert main(["sessions", "list", "--service", "OpsSession", "--admin", env.engine.admin_url]) == 0
    assert "idle" in capsys.readouterr().out


# -- reading a journal (rows as restate-server 1.7.12 returns them from sys_journal) -------------------------


def command(index: int, body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"index": index, "entry_lite_json": json.dumps({"Command": body}), **extra}


def notification(index: int, completion_id: int) -> dict[str, Any]:
    body = {"ty": {"Completion": "Run"}, "id": {"CompletionId": completion_id}, "result": "Success"}
    return {"index": index, "entry_lite_json": json.dumps({"Notification": body})}


INPUT = command(0, {"Input": {}})


def test_an_open_step_is_running_and_a_completed_one_is_not() -> None:
    journal = [INPUT, command(1, {"Run": {"completion_id": 1, "name": "llm: helper #1"}}), notification(2, 1)]
    assert _activity(journal, False).kind == "idle"
    journal.append(command(3, {"Run": {"completion_id": 2, "name": "tool: fetch_report"}}))
    activity = _activity(journal, False)
    assert (activity.kind, activity.text) == ("step", "step 'tool: fetch_report' in flight")


def test_a_timer_a_call_and_an_approval_are_told_apart() -> None:
    sleep = command(1, {"Sleep": {"wake_up_time": 1796011796336, "completion_id": 1}})
    assert _activity([INPUT, sleep], False).text == "a timer (until 2026-11-30 04:09:56 UTC)"

    target = {"Service": {"name": "Flaky", "handler": "fetch", "scope": None}}
    call = command(1, {"Call": {"invocation_id": "inv_1x", "invocation_target": target, "result_completion_id": 2}})
    activity = _activity([INPUT, call], False)
    assert (activity.kind, activity.call_id, activity.text) == ("call", "inv_1x", "a call to Flaky/fetch (inv_1x)")

    # What await_approval journals: a one-way send to the approvals object's `add`, then a timer (its timeout).
    approvals = {"VirtualObject": {"name": "Approvals", "key": "default", "handler": "add", "scope": None}}
    add = command(1, {"OneWayCall": {"invocation_id": "inv_2y", "invocation_target": approvals}})
    timer = command(3, {"Sleep": {"wake_up_time": 1796011796336, "completion_id": 2}})
    activity = _activity([INPUT, add, notification(2, 1), timer], True)
    assert (activity.kind, activity.text) == (
        "approval",
        "an approval by a person (times out at 2026-11-30 04:09:56 UTC)",
    )

    assert _activity([INPUT], True).kind == "awakeable"  # Suspended on an awakeable, nothing else open.
