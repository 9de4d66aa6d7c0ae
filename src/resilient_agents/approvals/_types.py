"""Types that cross into the journal and into the ``Approvals`` object's state. Private module.

Every value here is a versioned pydantic model so that what an invocation journaled, what the object stored
and what the CLI reads are the same JSON on every side.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from resilient_agents.errors import ConfigurationError

APPROVALS_OBJECT = "Approvals"
"""Default name of the Virtual Object that lists the approvals (``<namespace>.Approvals`` with a namespace)."""

DEFAULT_TENANT = "default"
"""The object key (tenant) under which approvals are kept when the requester names none."""

PENDING_PREFIX = "pending:"
"""State key prefix of a pending approval in one tenant's object (``pending:<id>``)."""

DECIDED_PREFIX = "decided:"
"""State key prefix of the record of a decided, timed-out or withdrawn approval (``decided:<id>``)."""

DecidedStatus = Literal["approved", "rejected", "timed_out", "withdrawn"]
"""How an approval ended: decided by a person, passed its timeout, or withdrawn by its requester."""

_NAME_PATTERN = re.compile(r"^([a-zA-Z]|_[a-zA-Z0-9])[a-zA-Z0-9._-]*$")
"""Service names that restate-server 1.7.12 accepts (it rejects a deployment with any other)."""


def registry_name(namespace: str | None) -> str:
    """The object name for ``namespace`` (``None`` or empty: ``Approvals``), checked against Restate's rules.

    Raises:
        ConfigurationError: The name would be rejected by restate-server at registration.
    """
    if not namespace:
        return APPROVALS_OBJECT
    name = f"{namespace}.{APPROVALS_OBJECT}"
    if not _NAME_PATTERN.fullmatch(name):
        raise ConfigurationError(
            f"approvals namespace {namespace!r} makes the service name {name!r}, which Restate rejects: use letters, "
            "digits, '.', '_' and '-', starting with a letter (e.g. 'bank' or 'acme.bank')"
        )
    return name


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
        kind: ``"awakeable"``: resolve the awakeable ``awakeable_id``; ``"workflow"``: send the decision
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


class DecideRequest(BaseModel):
    """A person's decision on one approval: the body of ``POST /<Approvals>/<tenant>/decide``.

    Attributes:
        id: The approval's id, exactly (no prefix).
        approved: ``true`` to approve, ``false`` to reject.
        by: Who decides.
        note: A reason or comment for the requester.
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    approved: bool
    by: str | None = None
    note: str | None = None

    def decision(self) -> ApprovalDecision:
        """The decision this request carries, as the waiting code receives it."""
        return ApprovalDecision(approved=self.approved, by=self.by, note=self.note)


class DecidedApproval(BaseModel):
    """The record the ``Approvals`` object keeps of an approval that is no longer pending.

    It lets a decision that arrives later be answered ``"too late: timed_out"`` or ``"already approved by X"``.
    Each tenant keeps a bounded number of these for a bounded time.

    Attributes:
        schema_version: Version of this stored format.
        id: The approval's id.
        title: Its title.
        status: How it ended.
        by: Who decided (``status`` approved or rejected), if known.
        note: The decision's note, or why it ended without one.
        created_at_ms: When it was requested (Unix ms), telling apart requests that reused an id.
        decided_at_ms: When it ended (Unix ms, from the object's journal).
    """

    schema_version: Literal[1] = 1
    id: str
    title: str
    status: DecidedStatus
    by: str | None = None
    note: str | None = None
    created_at_ms: int
    decided_at_ms: int

    def decision(self) -> ApprovalDecision:
        """The decision this record stands for, as the waiting code receives it."""
        return ApprovalDecision(
            approved=self.status == "approved", by=self.by, note=self.note, timed_out=self.status == "timed_out"
        )

    def refusal(self) -> str:
        """What a decision arriving now is told: ``"already approved by ana ..."``, ``"too late: timed_out ..."``."""
        if self.status in ("approved", "rejected"):
            return f"already {self.status} by {self.by or 'someone who gave no name'} (approval {self.id!r})"
        why = self.note or ("the requester stopped waiting" if self.status == "withdrawn" else "no decision in time")
        return f"too late: {self.status} (approval {self.id!r}: {why})"


class Conclusion(BaseModel):
    """What the waiting code reports when it stops waiting: the body of the object's ``conclude`` handler.

    Attributes:
        schema_version: Version of this format.
        id: The approval's id.
        created_at_ms: The request's ``created_at_ms``; ``None`` matches whichever request holds the id.
        decision: The outcome the waiter saw; ``None`` when it stopped waiting without one (cancelled).
    """

    schema_version: Literal[1] = 1
    id: str
    created_at_ms: int | None = None
    decision: ApprovalDecision | None = None
