"""Approvals on the real engine: list, approve, reject, timeout, a restart while waiting, a workflow target."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from resilient_agents.models import Reply, ToolCall
from resilient_agents.testing import AgentTestEnv, wait_until

from .conftest import pending, pending_ids, run_cli

pytestmark = pytest.mark.engine

Capsys = pytest.CaptureFixture[str]


def _start(env: AgentTestEnv, capsys: Capsys, approval_id: str, **request: object) -> str:
    invocation = env.send(
        "ApprovalDemo/request", {"title": f"approve {approval_id}", "approval_id": approval_id, **request}
    )
    wait_until(lambda: approval_id in pending_ids(env, capsys), what=f"{approval_id} to be listed")
    return invocation


def _result(env: AgentTestEnv, invocation: str) -> Any:
    response = env.attach(invocation, timeout=30)
    assert response.status_code == 200, response.text
    result: Any = response.json()
    return result


def _gone(env: AgentTestEnv, capsys: Capsys, approval_id: str) -> None:
    wait_until(lambda: approval_id not in pending_ids(env, capsys), what=f"{approval_id} to leave the list")


def test_list_shows_the_waiting_request_and_approve_completes_it(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    invocation = _start(approval_env, capsys, "apr-seat", details={"seat": "1A"})

    code, out, _ = run_cli(capsys, "list", "--ingress", approval_env.engine.ingress_url)
    assert code == 0
    header, row = out.splitlines()[:2]
    assert header.split() == ["ID", "TITLE", "REQUESTED", "BY", "AGE", "EXPIRES", "IN"]
    assert row.startswith("apr-seat  approve apr-seat  ApprovalDemo")
    [entry] = [a for a in pending(approval_env, capsys) if a["id"] == "apr-seat"]
    assert entry["details"] == {"seat": "1A"}
    assert entry["resolve"]["kind"] == "awakeable"

    code, out, err = run_cli(
        capsys, "approve", "apr-seat", "--by", "ana", "--note", "ok", "--ingress", approval_env.engine.ingress_url
    )
    assert (code, err) == (0, "")
    assert out == "approved apr-seat: approve apr-seat\n"
    assert _result(approval_env, invocation) == {"approved": True, "by": "ana", "note": "ok", "timed_out": False}
    _gone(approval_env, capsys, "apr-seat")


def test_reject(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    invocation = _start(approval_env, capsys, "apr-loan")
    code, out, _ = run_cli(
        capsys, "reject", "apr-loan", "--by", "bo", "--note", "too large", "--ingress", approval_env.engine.ingress_url
    )
    assert code == 0
    assert out.startswith("rejected apr-loan")
    assert _result(approval_env, invocation) == {"approved": False, "by": "bo", "note": "too large", "timed_out": False}
    _gone(approval_env, capsys, "apr-loan")


def test_generated_id_and_plain_http(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    """Without an approval id one is made from ctx.uuid(); plain HTTP with ``true`` approves too."""
    invocation = approval_env.send("ApprovalDemo/request", {"title": "plain http"})
    listed = wait_until(
        lambda: [a for a in pending(approval_env, capsys) if a["title"] == "plain http"],
        what="the request to be listed",
    )
    [entry] = listed
    assert entry["id"].startswith("apr-") and len(entry["id"]) == 16
    awakeable = entry["resolve"]["awakeable_id"]
    response = httpx.post(f"{approval_env.engine.ingress_url}/restate/awakeables/{awakeable}/resolve", json=True)
    assert response.status_code < 300, response.text
    assert _result(approval_env, invocation) == {"approved": True, "by": None, "note": None, "timed_out": False}
    _gone(approval_env, capsys, entry["id"])


def test_timeout_rejects_and_clears_the_list(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    invocation = approval_env.send(
        "ApprovalDemo/request", {"title": "nobody answers", "approval_id": "apr-late", "timeout_ms": 300}
    )
    assert _result(approval_env, invocation) == {
        "approved": False,
        "by": None,
        "note": "no decision within 300ms",
        "timed_out": True,
    }
    _gone(approval_env, capsys, "apr-late")
    code, _, err = run_cli(capsys, "approve", "apr-late", "--ingress", approval_env.engine.ingress_url)
    assert code == 1
    assert "no pending approval 'apr-late'; `resilient-agents approvals list` shows them" in err


def test_service_restart_while_waiting(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    invocation = _start(approval_env, capsys, "apr-crash")
    approval_env.kill_service()
    approval_env.restart_service()
    code, _, err = run_cli(capsys, "approve", "apr-crash", "--by", "cy", "--ingress", approval_env.engine.ingress_url)
    assert code == 0, err
    assert _result(approval_env, invocation) == {"approved": True, "by": "cy", "note": None, "timed_out": False}
    _gone(approval_env, capsys, "apr-crash")


def test_workflow_target_is_resolved_through_its_handler(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    approval_env.send("ApprovalFlow/loan-7/run", {"title": "loan 50000 for customer 7", "details": {"amount": 50000}})
    wait_until(lambda: "flow-loan-7" in pending_ids(approval_env, capsys), what="the workflow to be listed")
    [entry] = [a for a in pending(approval_env, capsys) if a["id"] == "flow-loan-7"]
    assert entry["resolve"] == {
        "kind": "workflow",
        "awakeable_id": None,
        "service": "ApprovalFlow",
        "key": "loan-7",
        "handler": "decide",
    }
    code, _, err = run_cli(capsys, "approve", "flow-loan", "--by", "di", "--ingress", approval_env.engine.ingress_url)
    assert code == 0, err  # A unique prefix is enough.
    response = httpx.get(f"{approval_env.engine.ingress_url}/restate/workflow/ApprovalFlow/loan-7/attach", timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"approved": True, "by": "di", "note": None, "timed_out": False}
    _gone(approval_env, capsys, "flow-loan-7")


def test_agents_sdk_tools_wait_side_by_side(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    """Two approval tool calls in one model response: each waits in its own invocation; decided separately."""
    approval_env.scripted.push(
        Reply.calls(ToolCall("change_seat", {"seat": "1A"}), ToolCall("change_seat", {"seat": "2C"})),
        lambda request: Reply.say(" | ".join(m.text for m in request.trailing_tool_outputs())),
    )
    invocation = approval_env.send("Seats/run", "move me to 1A or 2C")
    wait_until(lambda: {"seat-1A", "seat-2C"} <= pending_ids(approval_env, capsys), what="both tools to wait")
    ingress = approval_env.engine.ingress_url
    assert run_cli(capsys, "reject", "seat-2C", "--note", "premium row", "--ingress", ingress)[0] == 0
    assert run_cli(capsys, "approve", "seat-1A", "--ingress", ingress)[0] == 0
    answer = _result(approval_env, invocation)
    assert answer == "seat changed to 1A | seat change to 2C not approved: premium row"
    _gone(approval_env, capsys, "seat-1A")
    _gone(approval_env, capsys, "seat-2C")


def test_workflow_helpers(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    """``await_workflow_approval`` + ``resolve_workflow_approval``: decided through the CLI, or timed out."""
    ingress = approval_env.engine.ingress_url
    approval_env.send("LoanFlow/c-1/run", {"title": "loan for c-1"})
    approval_env.send("LoanFlow/c-2/run", {"title": "loan for c-2", "timeout_ms": 300})
    wait_until(lambda: "LoanFlow-c-1" in pending_ids(approval_env, capsys), what="the loan to be listed")
    [entry] = [a for a in pending(approval_env, capsys) if a["id"] == "LoanFlow-c-1"]
    assert entry["requested_by"] == "LoanFlow/c-1"
    assert run_cli(capsys, "reject", "LoanFlow-c-1", "--by", "eve", "--note", "no", "--ingress", ingress)[0] == 0

    def outcome(key: str) -> Any:
        response = httpx.get(f"{ingress}/restate/workflow/LoanFlow/{key}/attach", timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    assert outcome("c-1") == {"approved": False, "by": "eve", "note": "no", "timed_out": False}
    assert outcome("c-2") == {"approved": False, "by": None, "note": "no decision within 300ms", "timed_out": True}
    _gone(approval_env, capsys, "LoanFlow-c-1")
    _gone(approval_env, capsys, "LoanFlow-c-2")


def test_cancelling_the_waiter_withdraws_the_request(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    invocation = _start(approval_env, capsys, "apr-cancel")
    response = httpx.patch(f"{approval_env.engine.admin_url}/invocations/{invocation}/cancel", timeout=10)
    assert response.status_code < 300, response.text
    _gone(approval_env, capsys, "apr-cancel")
    outcome = approval_env.attach(invocation)
    assert outcome.status_code == 409, outcome.text
