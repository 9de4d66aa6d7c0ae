"""Approvals under the always-replay engine config: every suspension replays the journal from the start."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from resilient_agents.models import Reply, ToolCall
from resilient_agents.testing import AgentTestEnv, wait_until

from .conftest import ROOT, pending_ids, run_cli, urls

pytestmark = pytest.mark.engine


def test_decisions_and_timeouts_replay_without_mismatch(
    agent_env: Callable[..., AgentTestEnv], capsys: pytest.CaptureFixture[str]
) -> None:
    env = agent_env("tests.approvals.apps.approval_app:app", always_replay=True, pythonpath=[ROOT])
    ingress = env.engine.ingress_url
    flags = urls(env)
    approved = env.send("ApprovalDemo/request", {"title": "replayed", "approval_id": "apr-replay"})
    late = env.send("ApprovalDemo/request", {"title": "late", "approval_id": "apr-late", "timeout_ms": 200})
    env.send("ApprovalFlow/wf-1/run", {"title": "workflow", "approval_id": "apr-flow"})
    wait_until(lambda: {"apr-replay", "apr-flow"} <= pending_ids(env, capsys), what="both to be listed")
    assert run_cli(capsys, "approve", "apr-replay", "--by", "ana", *flags)[0] == 0
    assert run_cli(capsys, "reject", "apr-flow", "--by", "bo", *flags)[0] == 0

    assert env.attach(approved).json() == {"approved": True, "by": "ana", "note": None, "timed_out": False}
    assert env.attach(late).json()["timed_out"] is True
    code, _, err = run_cli(capsys, "approve", "apr-late", *flags)  # After the timeout: refused.
    assert code == 1 and "too late: timed_out" in err
    flow = httpx.get(f"{ingress}/restate/workflow/ApprovalFlow/wf-1/attach", timeout=30)
    assert flow.json() == {"approved": False, "by": "bo", "note": None, "timed_out": False}
    wait_until(lambda: not pending_ids(env, capsys), what="the list to empty")
    code, _, err = run_cli(capsys, "approve", "apr-flow", *flags)  # A second decision: refused.
    assert code == 1 and "already rejected by bo" in err

    env.scripted.push(
        Reply.calls(ToolCall("change_seat", {"seat": "1A"}), ToolCall("change_seat", {"seat": "2C"})),
        lambda request: Reply.say(" | ".join(m.text for m in request.trailing_tool_outputs())),
    )
    turn = env.send("Seats/run", "1A or 2C")
    wait_until(lambda: {"seat-1A", "seat-2C"} <= pending_ids(env, capsys), what="both tools to wait")
    assert run_cli(capsys, "approve", "seat-2C", *flags)[0] == 0
    assert run_cli(capsys, "reject", "seat-1A", "--note", "exit row", *flags)[0] == 0
    assert env.attach(turn).json() == "seat change to 1A not approved: exit row | seat changed to 2C"
    assert env.llm_requests() == 2

    assert env.query("SELECT id, last_failure FROM sys_invocation WHERE last_failure IS NOT NULL") == []
    assert "mismatch" not in Path(env.base_dir / "service.log").read_text().lower()
