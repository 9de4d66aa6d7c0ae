"""Pure logic of :mod:`resilient_agents.approvals`: the stored format, decision parsing, timeout wording."""

from __future__ import annotations

from datetime import timedelta

import pytest

from resilient_agents.approvals import ApprovalDecision, PendingApproval, ResolveTarget
from resilient_agents.approvals._await import _decision_from, _describe


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
