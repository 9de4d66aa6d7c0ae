"""The native loop's spans: a handoff, a 3-tool batch, and an approval wait across a restart (acceptance 4, 5)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from resilient_agents.cli import main
from resilient_agents.models import ParsedRequest, Reply, ToolCall
from resilient_agents.testing import AgentTestEnv, wait_until

from .conftest import assert_no_content, ours, spans_named, wait_for_spans
from .receiver import ReceivedSpan, TraceReceiver

pytestmark = pytest.mark.engine
APP = "tests.tracing.bank_app:app"


def quote_tool_outputs(request: ParsedRequest) -> Reply:
    """A final answer that quotes the tool outputs."""
    return Reply.say(" | ".join(message.text for message in request.trailing_tool_outputs()))


def loan_model(request: ParsedRequest) -> Reply:
    """Hand over to the loan agent, request a large loan, then quote the tool's answer."""
    last = request.messages[-1]
    if last.role == "user":
        return Reply.call("transfer_to_loan_agent")
    if last.tool_name == "transfer_to_loan_agent":
        return Reply.call("request_loan", amount=50_000, term_months=48, purpose="a boat")
    return quote_tool_outputs(request)


def pending(env: AgentTestEnv, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The pending approvals, as a bank employee lists them."""
    capsys.readouterr()
    assert main(["approvals", "list", "--json", "--admin", env.engine.admin_url]) == 0
    listed: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return listed


def _children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [s for s in spans if s.parent_id == parent.span_id]


@pytest.mark.parametrize("always_replay", [False, True], ids=["live", "always-replay"])
def test_handoff_and_a_three_tool_batch_under_one_turn(
    traced_env: Callable[..., AgentTestEnv], receiver: TraceReceiver, always_replay: bool
) -> None:
    env = traced_env(APP, always_replay=always_replay)
    assert env.call("TracingStaff/open_account", "alice").status_code == 200
    env.scripted.push(
        Reply.call("transfer_to_banking_agent"),
        Reply.calls(
            ToolCall("get_balance", {}, call_id="c1"),
            ToolCall("get_transactions", {"month": "last_month"}, call_id="c2"),
            ToolCall("get_spending", {"month": "last_month"}, call_id="c3"),
        ),
        quote_tool_outputs,
    )
    question = "How am I doing this month?"
    answer = env.call("BankSession/alice/message", question)
    assert answer.status_code == 200, answer.text

    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "invoke_agent")) == 1, "the turn span")
    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "chat ")) == 3, "the model spans")
    spans = ours(receiver)
    turn = spans_named(receiver, "invoke_agent")[0]
    assert turn.attributes["session.id"] == "alice"
    assert turn.attributes["resilient_agents.path"] == "loop"
    under_turn = _children(spans, turn)
    handoffs = [s for s in under_turn if s.name.startswith("handoff ")]
    assert [h.attributes["resilient_agents.handoff.to"] for h in handoffs] == ["banking_agent"]
    tools = sorted((s for s in under_turn if s.name.startswith("execute_tool ")), key=lambda s: s.name)
    assert [t.name for t in tools] == [
        "execute_tool get_balance",
        "execute_tool get_spending",
        "execute_tool get_transactions",
    ]
    assert all(t.attributes["resilient_agents.tool.batch_size"] == 3 for t in tools)
    assert all(t.attributes["resilient_agents.tool.batched"] is True for t in tools)
    models = [s for s in under_turn if s.name.startswith("chat ")]
    assert len(models) == 3 and all(m.attributes["gen_ai.usage.input_tokens"] > 0 for m in models)
    assert {s.trace_id for s in spans} == {turn.trace_id}
    assert_no_content(receiver.snapshot(), [question, answer.json()[:40], "intake agent of Resilient Bank"])


def test_approval_wait_span_covers_a_restart(
    traced_env: Callable[..., AgentTestEnv], receiver: TraceReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    env = traced_env(APP, env={"BANK_LOAN_APPROVAL_TIMEOUT_SECONDS": "3600"})
    assert env.call("TracingStaff/open_account", "alice").status_code == 200
    env.scripted.push(*[loan_model] * 3)
    turn_id = env.send("BankSession/alice/message", "I'd like a loan of 50000")
    wait_until(lambda: len(pending(env, capsys)) == 1, what="the loan to wait for approval")
    approval_id = pending(env, capsys)[0]["id"]
    # What ended before the crash is exported by then (a 100 ms batch delay): wait until it has arrived.
    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "handoff ")) == 1, "the handoff span")
    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "chat ")) == 2, "the first two model spans")

    killed_at = time.time_ns()
    env.kill_service()
    env.restart_service()
    restarted_at = time.time_ns()
    capsys.readouterr()
    assert (
        main(
            [
                "approvals",
                "approve",
                approval_id,
                "--by",
                "ana",
                "--ingress",
                env.engine.ingress_url,
                "--admin",
                env.engine.admin_url,
            ]
        )
        == 0
    )
    assert env.attach(turn_id).status_code == 200

    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "approval_wait")) == 1, "the approval span")
    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "invoke_agent")) == 1, "the turn span")
    wait = spans_named(receiver, "approval_wait")[0]
    assert wait.attributes["resilient_agents.approval.id"] == approval_id
    assert wait.attributes["resilient_agents.approval.approved"] is True
    assert wait.start_ns < killed_at and wait.end_ns > restarted_at  # One span across the restart.
    turn = spans_named(receiver, "invoke_agent")[0]
    assert wait.trace_id == turn.trace_id  # The loan workflow's wait is in the turn's trace.
    tool = next(s for s in spans_named(receiver, "execute_tool request_loan"))
    # The tool's span is ended by the attempt after the restart; its start is when that attempt resumed it.
    assert tool.parent_id == turn.span_id and tool.end_ns >= wait.end_ns
    assert tool.attributes["resilient_agents.resumed"] is True
    assert turn.attributes["resilient_agents.resumed"] is True
    assert len(spans_named(receiver, "execute_tool request_loan")) == 1
    assert [h.attributes["resilient_agents.handoff.to"] for h in spans_named(receiver, "handoff ")] == ["loan_agent"]
    assert sorted(s.attributes["resilient_agents.step"] for s in spans_named(receiver, "chat ")) == [
        f"llm: {name} #{n}" for name, n in (("intake_agent", 1), ("loan_agent", 2), ("loan_agent", 3))
    ]
    assert_no_content(receiver.snapshot(), ["I'd like a loan", "a boat"])
