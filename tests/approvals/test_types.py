"""Pure logic of :mod:`resilient_agents.approvals`: stored formats, decisions, refusals, timeout wording, bounds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from resilient_agents.approvals import ApprovalDecision, DecidedApproval, DecideRequest, PendingApproval, ResolveTarget
from resilient_agents.approvals._await import _decision_from, _describe
from resilient_agents.approvals._object import DECIDED_KEEP, DECIDED_TTL, prune_decided
from resilient_agents.approvals._types import DecidedStatus


def test_pending_approval_round_trips_with_its_schema_version() -> None:
    approval = PendingApproval(
        id="apr-1",
        title="seat 1A",
        resolve=ResolveTarget(kind="workflow", service="Loan", key="k", handler="decide"),
        created_at_ms=1,
    )
    data = approval.model_dump(mode="json")
    assert data["schema_version"] == 1
    assert data["details"] == {} and data["expires_at_ms"] is None
    assert PendingApproval.model_validate(data) == approval
    with pytest.raises(ValueError, match="schema_version"):
        PendingApproval.model_validate({**data, "schema_version": 2})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, ApprovalDecision(approved=True)),
        (False, ApprovalDecision(approved=False)),
        ({"approved": True, "by": "ana", "note": "ok"}, ApprovalDecision(approved=True, by="ana", note="ok")),
    ],
)
def test_decisions_are_read_from_json(value: object, expected: ApprovalDecision) -> None:
    assert _decision_from(value) == expected


@pytest.mark.parametrize("value", ["yes", None, {"by": "ana"}, [1]])
def test_an_unreadable_decision_is_a_rejection(value: object) -> None:
    decision = _decision_from(value)
    assert not decision.approved and not decision.timed_out
    assert decision.note is not None and "treated as a rejection" in decision.note


@pytest.mark.parametrize(
    ("timeout", "text"),
    [
        (timedelta(milliseconds=300), "300ms"),
        (timedelta(seconds=2), "2s"),
        (timedelta(seconds=2.5), "2.5s"),
        (timedelta(minutes=5), "5m"),
        (timedelta(hours=1, minutes=30), "1h 30m"),
        (timedelta(days=2), "2d"),
    ],
)
def test_timeouts_are_described_for_people(timeout: timedelta, text: str) -> None:
    assert _describe(timeout) == text


def _ended(status: DecidedStatus, **extra: object) -> DecidedApproval:
    return DecidedApproval.model_validate(
        {"id": "apr-1", "title": "t", "status": status, "created_at_ms": 1, "decided_at_ms": 2, **extra}
    )


def test_decided_approval_round_trips_with_its_schema_version() -> None:
    record = _ended("approved", by="ana", note="ok")
    data = record.model_dump(mode="json")
    assert data["schema_version"] == 1
    assert DecidedApproval.model_validate(data) == record
    with pytest.raises(ValueError, match="schema_version"):
        DecidedApproval.model_validate({**data, "schema_version": 2})


@pytest.mark.parametrize(
    ("record", "refusal", "decision"),
    [
        (
            _ended("approved", by="ana"),
            "already approved by ana (approval 'apr-1')",
            ApprovalDecision(approved=True, by="ana"),
        ),
        (
            _ended("rejected", note="no"),
            "already rejected by someone who gave no name (approval 'apr-1')",
            ApprovalDecision(approved=False, note="no"),
        ),
        (
            _ended("timed_out", note="no decision within 5m"),
            "too late: timed_out (approval 'apr-1': no decision within 5m)",
            ApprovalDecision(approved=False, timed_out=True, note="no decision within 5m"),
        ),
        (
            _ended("withdrawn"),
            "too late: withdrawn (approval 'apr-1': the requester stopped waiting)",
            ApprovalDecision(approved=False),
        ),
    ],
)
def test_an_ended_approval_refuses_with_its_reason(
    record: DecidedApproval, refusal: str, decision: ApprovalDecision
) -> None:
    assert record.refusal() == refusal
    assert record.decision() == decision


def test_a_decide_request_takes_only_what_a_person_decides() -> None:
    request = DecideRequest.model_validate({"id": "apr-1", "approved": True, "by": "ana"})
    assert request.decision() == ApprovalDecision(approved=True, by="ana")
    with pytest.raises(ValueError, match="timed_out"):
        DecideRequest.model_validate({"id": "apr-1", "approved": False, "timed_out": True})


def test_the_record_of_ended_approvals_is_bounded_in_number_and_age() -> None:
    day_ms = 24 * 3600 * 1000
    now = 100 * day_ms
    order = [(f"old-{i}", now - 8 * day_ms) for i in range(3)] + [(f"n-{i}", now - i) for i in range(DECIDED_KEEP + 2)]
    keep, forget = prune_decided(order, now)
    assert len(keep) == DECIDED_KEEP
    assert keep == order[5:]  # The three older than the TTL, then the two oldest beyond the count.
    assert forget == ["old-0", "old-1", "old-2", "n-0", "n-1"]
    assert prune_decided([("a", now)], now) == ([("a", now)], [])
    assert DECIDED_TTL == timedelta(days=7)
