"""Approvals on the real engine: list, approve, reject, timeout, late and second decisions, tenants, restarts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from resilient_agents.models import Reply, ToolCall
from resilient_agents.testing import AgentTestEnv, wait_until

from .conftest import pending, pending_ids, run_cli, urls

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


def _decide_over_http(env: AgentTestEnv, tenant: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{env.engine.ingress_url}/Approvals/{tenant}/decide", json=body, timeout=30)


def test_list_shows_the_waiting_request_and_approve_completes_it(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    invocation = _start(approval_env, capsys, "apr-seat", details={"seat": "1A"})

    code, out, _ = run_cli(capsys, "list", "--admin", approval_env.engine.admin_url)
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["ID", "TENANT", "TITLE", "REQUESTED", "BY", "AGE", "EXPIRES", "IN"]
    [row] = [row for row in rows if row.startswith("apr-seat ")]
    assert row.split()[:5] == ["apr-seat", "default", "approve", "apr-seat", "ApprovalDemo"]
    [entry] = [a for a in pending(approval_env, capsys) if a["id"] == "apr-seat"]
    assert entry["details"] == {"seat": "1A"}
    assert (entry["registry"], entry["tenant"], entry["resolve"]["kind"]) == ("Approvals", "default", "awakeable")

    code, out, err = run_cli(capsys, "approve", "apr-seat", "--by", "ana", "--note", "ok", *urls(approval_env))
    assert (code, err) == (0, "")
    assert out == "approved apr-seat: approve apr-seat\n"
    assert _result(approval_env, invocation) == {"approved": True, "by": "ana", "note": "ok", "timed_out": False}
    _gone(approval_env, capsys, "apr-seat")


def test_reject(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    invocation = _start(approval_env, capsys, "apr-loan")
    code, out, _ = run_cli(capsys, "reject", "apr-loan", "--by", "bo", "--note", "too large", *urls(approval_env))
    assert code == 0
    assert out == "rejected apr-loan: approve apr-loan\n"
    assert _result(approval_env, invocation) == {"approved": False, "by": "bo", "note": "too large", "timed_out": False}
    _gone(approval_env, capsys, "apr-loan")


def test_a_second_decision_is_refused(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    invocation = _start(approval_env, capsys, "apr-twice", tenant="shop")
    assert run_cli(capsys, "approve", "apr-twice", "--by", "ana", *urls(approval_env))[0] == 0
    code, out, err = run_cli(capsys, "reject", "apr-twice", "--by", "bo", *urls(approval_env))
    assert (code, out) == (1, "")
    assert err == "error: already approved by ana (approval 'apr-twice')\n"
    response = _decide_over_http(approval_env, "shop", {"id": "apr-twice", "approved": False, "by": "cy"})
    assert response.status_code == 409, response.text
    assert response.json()["message"] == "already approved by ana (approval 'apr-twice')"
    assert _result(approval_env, invocation) == {"approved": True, "by": "ana", "note": None, "timed_out": False}


def test_generated_id_and_plain_http(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    """Without an approval id one is made from ctx.uuid(); resolving the awakeable over plain HTTP approves too."""
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
    # The object heard how the wait ended, so a decision now is refused.
    code, _, err = run_cli(capsys, "reject", entry["id"], *urls(approval_env))
    assert code == 1
    assert err == f"error: already approved by someone who gave no name (approval {entry['id']!r})\n"


def test_a_decision_after_the_timeout_is_refused(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    # Nobody decides until the waiter has returned its timed-out decision: nothing races the timer.
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

    code, out, err = run_cli(capsys, "approve", "apr-late", "--by", "ana", *urls(approval_env))
    assert (code, out) == (1, "")
    assert err == "error: too late: timed_out (approval 'apr-late': no decision within 300ms)\n"
    response = _decide_over_http(approval_env, "default", {"id": "apr-late", "approved": True})
    assert response.status_code == 409, response.text
    assert response.json()["message"] == "too late: timed_out (approval 'apr-late': no decision within 300ms)"


def test_ids_must_match_exactly(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    invocation = _start(approval_env, capsys, "apr-exact-123")
    code, out, err = run_cli(capsys, "approve", "apr-exact", *urls(approval_env))
    assert (code, out) == (1, "")
    assert err == (
        "error: no approval 'apr-exact'; ids must match exactly. Close matches: 'apr-exact-123'. "
        "`resilient-agents approvals list` shows the pending ones.\n"
    )
    response = _decide_over_http(approval_env, "default", {"id": "apr-exact", "approved": True})
    assert response.status_code == 404, response.text
    assert "apr-exact-123" in pending_ids(approval_env, capsys)  # Still waiting: nothing was decided.
    assert run_cli(capsys, "reject", "apr-exact-123", *urls(approval_env))[0] == 0
    assert _result(approval_env, invocation)["approved"] is False


def test_tenants_are_kept_apart(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    """The same id in two tenants: two object keys; the CLI asks which, and each decision reaches its waiter."""
    red = _start(approval_env, capsys, "apr-shared", tenant="red")
    blue = approval_env.send(
        "ApprovalDemo/request", {"title": "blue one", "approval_id": "apr-shared", "tenant": "blue"}
    )
    wait_until(
        lambda: (
            {("red", "apr-shared"), ("blue", "apr-shared")}
            <= {(a["tenant"], a["id"]) for a in pending(approval_env, capsys)}
        ),
        what="both tenants to list apr-shared",
    )
    rows = approval_env.query(
        "SELECT service_key FROM state WHERE service_name = 'Approvals' AND key = 'pending:apr-shared' "
        "ORDER BY service_key"
    )
    assert [row["service_key"] for row in rows] == ["blue", "red"]
    assert [a["tenant"] for a in pending(approval_env, capsys, "--tenant", "blue")] == ["blue"]

    code, _, err = run_cli(capsys, "approve", "apr-shared", *urls(approval_env))
    assert code == 1
    assert err == (
        "error: approval 'apr-shared' exists in several places (Approvals/blue, Approvals/red); "
        "pass --tenant KEY (and --namespace NS)\n"
    )
    assert run_cli(capsys, "approve", "apr-shared", "--tenant", "red", "--by", "r", *urls(approval_env))[0] == 0
    assert run_cli(capsys, "reject", "apr-shared", "--tenant", "blue", "--by", "b", *urls(approval_env))[0] == 0
    assert _result(approval_env, red) == {"approved": True, "by": "r", "note": None, "timed_out": False}
    assert _result(approval_env, blue) == {"approved": False, "by": "b", "note": None, "timed_out": False}


def test_service_restart_while_waiting(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    invocation = _start(approval_env, capsys, "apr-crash")
    approval_env.kill_service()
    approval_env.restart_service()
    code, _, err = run_cli(capsys, "approve", "apr-crash", "--by", "cy", *urls(approval_env))
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
    code, _, err = run_cli(capsys, "approve", "flow-loan-7", "--by", "di", *urls(approval_env))
    assert code == 0, err
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
    assert run_cli(capsys, "reject", "seat-2C", "--note", "premium row", *urls(approval_env))[0] == 0
    assert run_cli(capsys, "approve", "seat-1A", *urls(approval_env))[0] == 0
    answer = _result(approval_env, invocation)
    assert answer == "seat changed to 1A | seat change to 2C not approved: premium row"
    _gone(approval_env, capsys, "seat-1A")
    _gone(approval_env, capsys, "seat-2C")


def test_workflow_helpers(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    """``await_workflow_approval`` + ``resolve_workflow_approval``: decided through the CLI, or timed out."""
    ingress = approval_env.engine.ingress_url
    approval_env.send("LoanFlow/c-1/run", {"title": "loan for c-1"})
    wait_until(lambda: "LoanFlow-c-1" in pending_ids(approval_env, capsys), what="the loan to be listed")
    [entry] = [a for a in pending(approval_env, capsys) if a["id"] == "LoanFlow-c-1"]
    assert entry["requested_by"] == "LoanFlow/c-1"
    assert run_cli(capsys, "reject", "LoanFlow-c-1", "--by", "eve", "--note", "no", *urls(approval_env))[0] == 0

    def outcome(key: str) -> Any:
        response = httpx.get(f"{ingress}/restate/workflow/LoanFlow/{key}/attach", timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    assert outcome("c-1") == {"approved": False, "by": "eve", "note": "no", "timed_out": False}
    _gone(approval_env, capsys, "LoanFlow-c-1")

    approval_env.send("LoanFlow/c-2/run", {"title": "loan for c-2", "timeout_ms": 300})  # Nobody decides in time.
    assert outcome("c-2") == {"approved": False, "by": None, "note": "no decision within 300ms", "timed_out": True}
    _gone(approval_env, capsys, "LoanFlow-c-2")
    code, _, err = run_cli(capsys, "approve", "LoanFlow-c-2", *urls(approval_env))
    assert code == 1 and err.startswith("error: too late: timed_out (approval 'LoanFlow-c-2'")


def test_cancelling_the_waiter_withdraws_the_request(approval_env: AgentTestEnv, capsys: Capsys) -> None:
    invocation = _start(approval_env, capsys, "apr-cancel")
    response = httpx.patch(f"{approval_env.engine.admin_url}/invocations/{invocation}/cancel", timeout=10)
    assert response.status_code < 300, response.text
    _gone(approval_env, capsys, "apr-cancel")
    outcome = approval_env.attach(invocation)
    assert outcome.status_code == 409, outcome.text
    code, _, err = run_cli(capsys, "approve", "apr-cancel", *urls(approval_env))
    assert code == 1
    assert err == "error: too late: withdrawn (approval 'apr-cancel': the requester stopped waiting)\n"
