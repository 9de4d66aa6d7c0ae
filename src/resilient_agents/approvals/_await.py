"""Waiting durably for a person's decision. Private module.

:func:`await_approval` journals, in this order: the time (``timestamp``), an awakeable, a one-way send to
``<Approvals>/<tenant>/add``, a timer, and (once one of awakeable and timer completes) a call to
``<Approvals>/<tenant>/conclude``, which returns the decision that holds. The object runs ``decide`` and
``conclude`` one at a time per tenant, so a person's decision and the timeout cannot both win: whichever the
object saw first is the outcome, and the other is refused ("too late: timed_out") or overruled. Everything
decided here depends only on journaled values, so a replay after a crash or a suspension takes the same path.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import restate
from pydantic import ValidationError

from resilient_agents import _tracing
from resilient_agents._durable import TypeAdapterSerde as AdapterSerde
from resilient_agents._durable import durable_time

from ._object import approvals_object_name
from ._types import DEFAULT_TENANT, ApprovalDecision, Conclusion, PendingApproval, ResolveTarget

_APPROVAL_SERDE: AdapterSerde[PendingApproval] = AdapterSerde(PendingApproval)
_CONCLUSION_SERDE: AdapterSerde[Conclusion] = AdapterSerde(Conclusion)
_DECISION_SERDE: AdapterSerde[ApprovalDecision] = AdapterSerde(ApprovalDecision)
_RAW_SERDE: AdapterSerde[Any] = AdapterSerde(Any)
_CANCELLED = 409
"""Status code of the :class:`restate.TerminalError` the SDK raises when the invocation is cancelled."""


def register_pending(ctx: restate.Context, approval: PendingApproval, *, tenant: str | None = None) -> None:
    """List ``approval`` in the approvals object under ``tenant`` (a journaled one-way send; returns at once).

    A Workflow that waits on its own durable promise calls this with a ``kind="workflow"`` target naming its
    shared handler that takes the :class:`ApprovalDecision`, and :func:`clear_pending` once it stops waiting.
    (:func:`await_workflow_approval` does both, and also settles a decision that races the timeout.)

    Args:
        ctx: The context of the running handler.
        approval: The request; a pending one with the same id (in the same tenant) is replaced.
        tenant: The object key to list it under (an app, a customer...); default :data:`DEFAULT_TENANT`.
    """
    ctx.generic_send(approvals_object_name(), "add", _APPROVAL_SERDE.serialize(approval), key=_key(tenant))


def clear_pending(
    ctx: restate.Context,
    approval_id: str,
    *,
    tenant: str | None = None,
    decision: ApprovalDecision | None = None,
) -> None:
    """End the pending approval ``approval_id`` (a journaled one-way send).

    The approvals object remembers how it ended, so a decision that arrives later is refused with the reason.

    Args:
        ctx: The context of the running handler.
        approval_id: The id given to :func:`register_pending`; unknown ids are ignored.
        tenant: The tenant given to :func:`register_pending`.
        decision: How the wait ended (a timed-out decision is remembered as ``timed_out``); ``None``: withdrawn.
    """
    conclusion = Conclusion(id=approval_id, decision=decision)
    ctx.generic_send(approvals_object_name(), "conclude", _CONCLUSION_SERDE.serialize(conclusion), key=_key(tenant))


async def await_approval(
    ctx: restate.Context,
    *,
    title: str,
    details: dict[str, Any],
    timeout: timedelta,  # noqa: ASYNC109  (a durable timer, which asyncio.timeout cannot be)
    requested_by: str = "",
    approval_id: str | None = None,
    tenant: str | None = None,
) -> ApprovalDecision:
    """Ask a person to approve something and wait durably for the decision, at most ``timeout``.

    The invocation suspends while it waits (the service may stop and restart meanwhile). The request is
    listed by ``resilient-agents approvals list`` until it is decided or times out. Decide it with
    ``resilient-agents approvals approve|reject ID`` or ``POST /Approvals/<tenant>/decide`` with
    ``{"id": ID, "approved": true, "by": "ana"}``; both refuse a decision that comes after the timeout or
    after another decision (HTTP 409). Resolving the awakeable directly also works (with an
    :class:`ApprovalDecision`, or plain ``true``/``false``; rejecting it counts as a rejection with its
    message as the note) but bypasses that check.

    Call it from a handler, or from an Agents SDK tool declared with ``@durable_tool(durable_actions=True)``
    (several such calls in one model response wait side by side) with
    :func:`resilient_agents.openai_agents.durable_context` as ``ctx``. Not inside a journaled step
    (``ctx.run``, a default ``durable_tool`` body), where durable actions are not allowed. A Workflow that
    waits on its own durable promise uses :func:`await_workflow_approval` instead.

    Args:
        ctx: The context of the running handler.
        title: One line saying what is to be approved.
        details: Facts that help decide (plain JSON).
        timeout: How long to wait; then the request counts as rejected.
        requested_by: Who or what asks (shown in the list).
        approval_id: The id people type; default ``apr-`` plus 12 hex digits from ``ctx.uuid()``.
            Must be unique among the tenant's pending approvals.
        tenant: Whose approvals these are (an app, a customer, a session): the approvals object's key, so
            tenants never wait for each other; default :data:`DEFAULT_TENANT`.

    Returns:
        The decision; after the timeout ``ApprovalDecision(approved=False, timed_out=True, note=...)``.

    Raises:
        restate.TerminalError: When the invocation is cancelled while it waits (status 409).
    """
    created_at_ms = int(await durable_time(ctx) * 1000)
    ident = approval_id or f"apr-{ctx.uuid().hex[:12]}"
    awakeable_id, answer = ctx.awakeable(serde=_RAW_SERDE)
    approval = PendingApproval(
        id=ident,
        title=title,
        details=details,
        requested_by=requested_by,
        resolve=ResolveTarget(kind="awakeable", awakeable_id=awakeable_id),
        created_at_ms=created_at_ms,
        expires_at_ms=created_at_ms + _millis(timeout),
    )
    register_pending(ctx, approval, tenant=tenant)
    return await _wait_and_conclude(ctx, approval, _key(tenant), answer, timeout)


async def await_workflow_approval(
    ctx: restate.WorkflowContext,
    *,
    workflow: str,
    title: str,
    details: dict[str, Any],
    timeout: timedelta,  # noqa: ASYNC109  (a durable timer, which asyncio.timeout cannot be)
    handler: str = "decide",
    promise: str = "approval",
    requested_by: str = "",
    approval_id: str | None = None,
    tenant: str | None = None,
) -> ApprovalDecision:
    """From a Workflow's ``run`` handler: wait for a decision on the workflow's own durable promise.

    Lists the request with a ``kind="workflow"`` target, so a decision (``approvals approve|reject`` or
    ``POST /Approvals/<tenant>/decide``) is sent as an :class:`ApprovalDecision` to
    ``/<workflow>/<key>/<handler>``; that shared handler passes it on with :func:`resolve_workflow_approval`.
    Rejecting the promise counts as a rejection; after ``timeout`` the decision is
    ``ApprovalDecision(approved=False, timed_out=True, note=...)`` and later decisions are refused.

    Example:
        >>> @loan.main()  # doctest: +SKIP
        ... async def run(ctx: restate.WorkflowContext, request: LoanRequest) -> str:
        ...     decision = await await_workflow_approval(
        ...         ctx, workflow="LoanApproval", title="loan 50000", details={}, timeout=timedelta(hours=1)
        ...     )
        >>> @loan.handler()  # doctest: +SKIP
        ... async def decide(ctx: restate.WorkflowSharedContext, decision: ApprovalDecision) -> None:
        ...     await resolve_workflow_approval(ctx, decision)

    Args:
        ctx: The context of the workflow's ``run`` handler.
        workflow: The workflow's name (as served), for the resolve target.
        title: One line saying what is to be approved.
        details: Facts that help decide (plain JSON).
        timeout: How long to wait; then the request counts as rejected.
        handler: The workflow's shared handler that takes the decision.
        promise: The durable promise's name (the same in :func:`resolve_workflow_approval`).
        requested_by: Who or what asks; default ``"<workflow>/<key>"``.
        approval_id: The id people type; default ``"<workflow>-<key>"``.
        tenant: Whose approvals these are: the approvals object's key; default :data:`DEFAULT_TENANT`.

    Returns:
        The decision.

    Raises:
        restate.TerminalError: When the workflow is cancelled while it waits (status 409).
    """
    key = ctx.key()
    created_at_ms = int(await durable_time(ctx) * 1000)
    approval = PendingApproval(
        id=approval_id or f"{workflow}-{key}",
        title=title,
        details=details,
        requested_by=requested_by or f"{workflow}/{key}",
        resolve=ResolveTarget(kind="workflow", service=workflow, key=key, handler=handler),
        created_at_ms=created_at_ms,
        expires_at_ms=created_at_ms + _millis(timeout),
    )
    register_pending(ctx, approval, tenant=tenant)
    answer = ctx.promise(promise, serde=_RAW_SERDE).value()
    return await _wait_and_conclude(ctx, approval, _key(tenant), answer, timeout)


async def resolve_workflow_approval(
    ctx: restate.WorkflowSharedContext, decision: ApprovalDecision, *, promise: str = "approval"
) -> None:
    """From a Workflow's shared handler: hand a person's decision to :func:`await_workflow_approval`.

    Args:
        ctx: The context of the shared handler (the one named ``handler`` there).
        decision: What the approvals object (or an HTTP client) sent.
        promise: The durable promise's name (the same as there).
    """
    await ctx.promise(promise, serde=_RAW_SERDE).resolve(decision.model_dump(mode="json"))


async def _wait_and_conclude(
    ctx: restate.Context,
    approval: PendingApproval,
    tenant: str,
    answer: restate.RestateDurableFuture[Any],
    timeout: timedelta,  # noqa: ASYNC109  (a durable timer)
) -> ApprovalDecision:
    """Wait for ``answer`` or ``timeout``, then settle the outcome with the approvals object and return it."""
    with _tracing.approval_wait(
        ctx, approval_id=approval.id, tenant=tenant, created_at_ms=approval.created_at_ms, title=approval.title
    ) as span:
        decision = await _settle(ctx, approval, tenant, answer, timeout)
        span.set("resilient_agents.approval.approved", decision.approved)
        span.set("resilient_agents.approval.timed_out", decision.timed_out)
        return decision


async def _settle(
    ctx: restate.Context,
    approval: PendingApproval,
    tenant: str,
    answer: restate.RestateDurableFuture[Any],
    timeout: timedelta,  # noqa: ASYNC109  (a durable timer)
) -> ApprovalDecision:
    seen: ApprovalDecision
    # One select in this one task: awaiting the two futures from separate tasks can lose a wake-up.
    try:
        match await restate.select(answer=answer, timeout=ctx.sleep(timeout, name=f"approval timeout: {approval.id}")):
            case ["answer", value]:
                seen = _decision_from(value)
            case _:
                seen = ApprovalDecision(approved=False, timed_out=True, note=f"no decision within {_describe(timeout)}")
    except restate.TerminalError as error:
        if error.status_code == _CANCELLED:
            # Withdraw without waiting for an answer: the invocation is being cancelled.
            withdrawn = Conclusion(id=approval.id, created_at_ms=approval.created_at_ms)
            ctx.generic_send(approvals_object_name(), "conclude", _CONCLUSION_SERDE.serialize(withdrawn), key=tenant)
            raise
        seen = ApprovalDecision(approved=False, note=error.message or "rejected")
    # The object answers with the decision that holds: a person's decision it accepted before this
    # conclusion wins over a timeout seen here meanwhile (that person was told it was accepted).
    conclusion = Conclusion(id=approval.id, created_at_ms=approval.created_at_ms, decision=seen)
    raw = await ctx.generic_call(
        approvals_object_name(), "conclude", _CONCLUSION_SERDE.serialize(conclusion), key=tenant
    )
    return _DECISION_SERDE.deserialize(raw) or seen


def _key(tenant: str | None) -> str:
    return tenant or DEFAULT_TENANT


def _millis(duration: timedelta) -> int:
    return int(duration.total_seconds() * 1000)


def _decision_from(value: Any) -> ApprovalDecision:
    """Turn what the awakeable was resolved with into a decision; anything unreadable is a rejection."""
    if isinstance(value, bool):
        return ApprovalDecision(approved=value)
    try:
        return ApprovalDecision.model_validate(value)
    except ValidationError:
        return ApprovalDecision(approved=False, note=f"unreadable decision {value!r}: treated as a rejection")


def _describe(timeout: timedelta) -> str:
    """Say a duration the way people do: ``"90ms"``, ``"2s"``, ``"5m"``, ``"1h 30m"``."""
    total_ms = round(timeout.total_seconds() * 1000)
    if total_ms < 1000:
        return f"{total_ms}ms"
    seconds = total_ms / 1000
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return " ".join(parts)
