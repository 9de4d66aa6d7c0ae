"""Waiting durably for a person's decision. Private module.

:func:`await_approval` journals, in this order: the time (``timestamp``), an awakeable, a one-way send to
``Approvals/pending/add``, a timer, and (once one of awakeable and timer completes) a one-way send to
``Approvals/pending/remove``. Everything it decides depends only on journaled values, so a replay after a
crash or a suspension takes the same path.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import restate
from pydantic import ValidationError

from resilient_agents._durable import TypeAdapterSerde as AdapterSerde

from ._types import APPROVALS_KEY, APPROVALS_OBJECT, ApprovalDecision, PendingApproval, ResolveTarget

_APPROVAL_SERDE: AdapterSerde[PendingApproval] = AdapterSerde(PendingApproval)
_ID_SERDE: AdapterSerde[str] = AdapterSerde(str)
_RAW_SERDE: AdapterSerde[Any] = AdapterSerde(Any)
_CANCELLED = 409
"""Status code of the :class:`restate.TerminalError` the SDK raises when the invocation is cancelled."""


def register_pending(ctx: restate.Context, approval: PendingApproval) -> None:
    """List ``approval`` in the ``Approvals`` object (a journaled one-way send; returns at once).

    A Workflow that waits on its own durable promise calls this with a ``kind="workflow"`` target naming its
    shared handler that takes the :class:`ApprovalDecision`, and :func:`clear_pending` once decided.

    Args:
        ctx: The context of the running handler.
        approval: The request; an existing entry with the same id is replaced.
    """
    ctx.generic_send(APPROVALS_OBJECT, "add", _APPROVAL_SERDE.serialize(approval), key=APPROVALS_KEY)


def clear_pending(ctx: restate.Context, approval_id: str) -> None:
    """Remove the approval ``approval_id`` from the ``Approvals`` object (a journaled one-way send).

    Args:
        ctx: The context of the running handler.
        approval_id: The id given to :func:`register_pending`; unknown ids are ignored.
    """
    ctx.generic_send(APPROVALS_OBJECT, "remove", _ID_SERDE.serialize(approval_id), key=APPROVALS_KEY)


async def await_approval(
    ctx: restate.Context,
    *,
    title: str,
    details: dict[str, Any],
    timeout: timedelta,  # noqa: ASYNC109  (a durable timer, which asyncio.timeout cannot be)
    requested_by: str = "",
    approval_id: str | None = None,
) -> ApprovalDecision:
    """Ask a person to approve something and wait durably for the decision, at most ``timeout``.

    The invocation suspends while it waits (the service may stop and restart meanwhile). The request is
    listed by ``resilient-agents approvals list`` until it is decided or times out. Decide it with
    ``resilient-agents approvals approve|reject ID`` or by resolving the awakeable over HTTP with an
    :class:`ApprovalDecision` (plain ``true``/``false`` is accepted too); rejecting the awakeable
    (``/restate/awakeables/<id>/reject``) counts as a rejection with its message as the note.

    Call it from a handler, or from an Agents SDK tool declared with
    ``@durable_tool(invocation=True)`` (its own invocation, so several such calls in one model response
    wait side by side) with :func:`resilient_agents.openai_agents.durable_context` as ``ctx``. Not inside
    a journaled step (``ctx.run``, a default ``durable_tool`` body), where durable actions are not allowed.
    A Workflow that waits on its own durable promise uses :func:`await_workflow_approval` instead.

    Args:
        ctx: The context of the running handler.
        title: One line saying what is to be approved.
        details: Facts that help decide (plain JSON).
        timeout: How long to wait; then the request counts as rejected.
        requested_by: Who or what asks (shown in the list).
        approval_id: The id people type; default ``apr-`` plus 12 hex digits from ``ctx.uuid()``.
            Must be unique among pending approvals.

    Returns:
        The decision; after the timeout ``ApprovalDecision(approved=False, timed_out=True, note=...)``.

    Raises:
        restate.TerminalError: When the invocation is cancelled while it waits (status 409).
    """
    created_at_ms = int(await ctx.time() * 1000)
    ident = approval_id or f"apr-{ctx.uuid().hex[:12]}"
    awakeable_id, answer = ctx.awakeable(serde=_RAW_SERDE)
    register_pending(
        ctx,
        PendingApproval(
            id=ident,
            title=title,
            details=details,
            requested_by=requested_by,
            resolve=ResolveTarget(kind="awakeable", awakeable_id=awakeable_id),
            created_at_ms=created_at_ms,
            expires_at_ms=created_at_ms + _millis(timeout),
        ),
    )
    return await _wait_and_clear(ctx, ident, answer, timeout)


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
) -> ApprovalDecision:
    """From a Workflow's ``run`` handler: wait for a decision on the workflow's own durable promise.

    Lists the request with a ``kind="workflow"`` target, so ``approvals approve|reject`` POSTs the
    :class:`ApprovalDecision` to ``/<workflow>/<key>/<handler>``; that shared handler passes it on with
    :func:`resolve_workflow_approval`. Rejecting the promise counts as a rejection; after ``timeout`` the
    decision is ``ApprovalDecision(approved=False, timed_out=True, note=...)``. The entry is withdrawn either way.

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

    Returns:
        The decision.

    Raises:
        restate.TerminalError: When the workflow is cancelled while it waits (status 409).
    """
    key = ctx.key()
    ident = approval_id or f"{workflow}-{key}"
    created_at_ms = int(await ctx.time() * 1000)
    register_pending(
        ctx,
        PendingApproval(
            id=ident,
            title=title,
            details=details,
            requested_by=requested_by or f"{workflow}/{key}",
            resolve=ResolveTarget(kind="workflow", service=workflow, key=key, handler=handler),
            created_at_ms=created_at_ms,
            expires_at_ms=created_at_ms + _millis(timeout),
        ),
    )
    return await _wait_and_clear(ctx, ident, ctx.promise(promise, serde=_RAW_SERDE).value(), timeout)


async def resolve_workflow_approval(
    ctx: restate.WorkflowSharedContext, decision: ApprovalDecision, *, promise: str = "approval"
) -> None:
    """From a Workflow's shared handler: hand a person's decision to :func:`await_workflow_approval`.

    Args:
        ctx: The context of the shared handler (the one named ``handler`` there).
        decision: What ``approvals approve|reject`` (or an HTTP client) sent.
        promise: The durable promise's name (the same as there).
    """
    await ctx.promise(promise, serde=_RAW_SERDE).resolve(decision.model_dump(mode="json"))


async def _wait_and_clear(
    ctx: restate.Context,
    ident: str,
    answer: restate.RestateDurableFuture[Any],
    timeout: timedelta,  # noqa: ASYNC109  (a durable timer)
) -> ApprovalDecision:
    """Wait for ``answer`` or ``timeout``, withdraw the listed entry ``ident``, return the decision."""
    # One select in this one task: awaiting the two futures from separate tasks can lose a wake-up.
    try:
        match await restate.select(answer=answer, timeout=ctx.sleep(timeout, name=f"approval timeout: {ident}")):
            case ["answer", value]:
                decision = _decision_from(value)
            case _:
                decision = ApprovalDecision(
                    approved=False, timed_out=True, note=f"no decision within {_describe(timeout)}"
                )
    except restate.TerminalError as error:
        clear_pending(ctx, ident)
        if error.status_code == _CANCELLED:
            raise
        return ApprovalDecision(approved=False, note=error.message or "rejected")
    clear_pending(ctx, ident)
    return decision


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
