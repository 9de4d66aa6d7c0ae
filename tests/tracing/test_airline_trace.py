"""The SDK path's spans in the airline example: a handoff and a 3-tool parallel batch under one turn (acceptance 3)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from resilient_agents.approvals._admin import list_pending
from resilient_agents.cli import main
from resilient_agents.models import Reply, ToolCall
from resilient_agents.testing import AgentTestEnv, wait_until

from .conftest import assert_no_content, ours, spans_named, wait_for_spans
from .receiver import TraceReceiver

pytestmark = pytest.mark.engine
REQUEST = "send me the invoices of AB4568, AB4569 and AB4570, then move me to seat 10B on booking 5666"


def test_handoff_and_parallel_batch_under_one_turn(
    traced_env: Callable[..., AgentTestEnv], receiver: TraceReceiver, tmp_path: Path
) -> None:
    env = traced_env("examples.airline.agent:app", env={"AIRLINE_OUTBOX": str(tmp_path / "outbox.jsonl")})
    env.scripted.push(
        Reply.calls(
            *(ToolCall("send_invoice", {"confirmation_number": f"AB45{n}"}, call_id=f"i{n}") for n in (68, 69, 70))
        ),
        Reply.call("transfer_to_seat_booking_agent"),
        Reply.call("update_seat", confirmation_number="5666", new_seat="10B"),
        Reply.say("All done: three invoices sent and your seat is 10B."),
    )
    answer = env.call("Airline/erin/message", REQUEST)
    assert answer.status_code == 200, answer.text

    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "invoke_agent")) == 1, "the turn span")
    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "chat ")) == 4, "the model spans")
    turn = spans_named(receiver, "invoke_agent")[0]
    assert turn.name == "invoke_agent Triage Agent"
    assert turn.attributes["session.id"] == "erin" and turn.attributes["resilient_agents.outcome"] == "completed"
    spans = ours(receiver)
    assert {s.trace_id for s in spans} == {turn.trace_id}
    children = [s for s in spans if s.parent_id == turn.span_id]
    assert {s.span_id for s in spans} - {s.span_id for s in children} == {turn.span_id}  # All directly under the turn.

    invoices = [s for s in children if s.name == "execute_tool send_invoice"]
    assert len(invoices) == 3
    assert sorted(s.attributes["gen_ai.tool.call.id"] for s in invoices) == ["i68", "i69", "i70"]
    assert all(s.attributes["resilient_agents.tool.batch_size"] == 3 for s in invoices)
    assert sorted(s.attributes["resilient_agents.step"] for s in invoices) == [
        "tool: send_invoice",
        "tool: send_invoice #2",
        "tool: send_invoice #3",
    ]
    handoffs = [s for s in children if s.name.startswith("handoff ")]
    assert [
        (h.attributes["resilient_agents.handoff.from"], h.attributes["resilient_agents.handoff.to"]) for h in handoffs
    ] == [("Triage Agent", "Seat Booking Agent")]
    seat = [s for s in children if s.name == "execute_tool update_seat"]
    assert len(seat) == 1 and seat[0].attributes["resilient_agents.tool.batched"] is False
    models = sorted((s for s in children if s.name.startswith("chat ")), key=lambda s: s.start_ns)
    assert [m.attributes["gen_ai.agent.name"] for m in models] == [
        "Triage Agent",
        "Triage Agent",
        "Seat Booking Agent",
        "Seat Booking Agent",
    ]
    assert_no_content(receiver.snapshot(), [REQUEST, "AB4568", "All done", "triage agent"])


def test_a_plain_function_tool_gets_a_span_too(
    traced_env: Callable[..., AgentTestEnv], receiver: TraceReceiver, tmp_path: Path
) -> None:
    env = traced_env("examples.airline.agent:app", env={"AIRLINE_OUTBOX": str(tmp_path / "outbox.jsonl")})
    env.scripted.push(
        Reply.call("transfer_to_faq_agent"),
        Reply.call("faq_lookup_tool", question="how much baggage can I bring?"),
        Reply.say("One bag."),
    )
    assert env.call("Airline/frank/message", "how much baggage can I bring?").status_code == 200
    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "invoke_agent")) == 1, "the turn span")
    turn = spans_named(receiver, "invoke_agent")[0]
    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "execute_tool")) == 1, "the tool span")
    tool = spans_named(receiver, "execute_tool")[0]
    assert tool.name == "execute_tool faq_lookup_tool" and tool.parent_id == turn.span_id
    assert tool.attributes["resilient_agents.step"] == "plain: faq_lookup_tool"
    assert "output.value" not in tool.attributes


def test_a_seat_change_waiting_for_approval_across_a_restart(
    traced_env: Callable[..., AgentTestEnv], receiver: TraceReceiver, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = traced_env("examples.airline.agent:app", env={"AIRLINE_OUTBOX": str(tmp_path / "outbox.jsonl")})
    env.scripted.push(
        Reply.call("transfer_to_seat_booking_agent"),
        Reply.call("update_seat", confirmation_number="5666", new_seat="2A"),
        Reply.say("Your seat is now 2A."),
    )
    urls = ["--ingress", env.engine.ingress_url, "--admin", env.engine.admin_url]
    invocation = env.send("Airline/gina/message", "please change my seat to 2a for booking 5666")
    pending = wait_until(lambda: list_pending(env.engine.admin_url), what="the approval request")
    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "handoff ")) == 1, "the handoff span")
    killed_at = time.time_ns()
    env.kill_service()
    env.restart_service()
    capsys.readouterr()
    assert main(["approvals", "approve", pending[0].approval.id, "--by", "ana", *urls]) == 0
    assert env.attach(invocation).status_code == 200

    wait_for_spans(receiver, lambda _: len(spans_named(receiver, "invoke_agent")) == 1, "the turn span")
    turn = spans_named(receiver, "invoke_agent")[0]
    [tool] = spans_named(receiver, "execute_tool update_seat")
    [wait] = spans_named(receiver, "approval_wait")
    assert tool.parent_id == turn.span_id and wait.parent_id == tool.span_id
    assert tool.status != "STATUS_CODE_ERROR" and tool.attributes["resilient_agents.outcome"] == "completed"
    assert wait.start_ns < killed_at < wait.end_ns and wait.attributes["resilient_agents.approval.approved"] is True
    assert turn.start_ns <= tool.start_ns <= wait.start_ns  # No span starts before its parent.
    assert len(spans_named(receiver, "handoff ")) == 1
