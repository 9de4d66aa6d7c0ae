"""Types that cross into the journal and into the ``Approvals`` object's state. Private module.

Every value here is a versioned pydantic model so that what an invocation journaled, what the object stored
and what the CLI reads are the same JSON on every side.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

APPROVALS_OBJECT = "Approvals"
"""Name of the Virtual Object that lists the pending approvals."""

APPROVALS_KEY = "pending"
"""The one key of :data:`APPROVALS_OBJECT` under which all pending approvals live."""


class ApprovalDecision(BaseModel):
    """A person's answer to an approval request (also what a timeout produces).

    Attributes:
        approved: Whether the request was approved.
        by: Who decided (free text, e.g. an employee name); ``None`` if unknown.
        note: A short reason or comment shown to the requester.
        timed_out: ``True`` when nobody decided in time (then ``approved`` is ``False``).
    """

    approved: bool
    by: str | None = None
    note: str | None = None
    timed_out: bool = False


class ResolveTarget(BaseModel):
    """How a decision reaches the code that waits for it.

    Attributes:
        kind: ``"awakeable"``: resolve the awakeable ``awakeable_id``; ``"workflow"``: POST the decision
            (:class:`ApprovalDecision` JSON) to ``/<service>/<key>/<handler>`` (typically a Workflow's shared
            handler that resolves a durable promise).
        awakeable_id: The awakeable to resolve (``kind="awakeable"``).
        service: The Workflow or Virtual Object name (``kind="workflow"``).
        key: Its key (``kind="workflow"``).
        handler: The handler that takes the decision (``kind="workflow"``).
    """

    kind: Literal["awakeable", "workflow"]
    awakeable_id: str | None = None
    service: str | None = None
    key: str | None = None
    handler: str | None = None


class PendingApproval(BaseModel):
    """One request waiting for a person's decision, as stored in the ``Approvals`` object.

    Attributes:
        schema_version: Version of this stored format.
        id: Identifier people type (``resilient-agents approvals approve ID``); unique among pending approvals.
        title: One line saying what is to be approved.
        details: Anything that helps decide (amount, customer, seat, ...); plain JSON.
        requested_by: Who or what asks (an agent, a session key, a workflow).
        resolve: Where the decision goes.
        created_at_ms: When it was requested (Unix time, milliseconds, from the journal).
        expires_at_ms: When the requester stops waiting, if it does.
    """

    schema_version: Literal[1] = 1
    id: str
    title: str
    details: dict[str, Any] = Field(default_factory=dict)
    requested_by: str = ""
    resolve: ResolveTarget
    created_at_ms: int
    expires_at_ms: int | None = None
