"""The ``Approvals`` Virtual Object: requests waiting for a person, one object key per tenant. Private module.

Each tenant (an app, a customer, a session: whatever the requester names) is its own key, so tenants never
queue behind each other. One key's state holds ``pending:<id>`` for every waiting request and ``decided:<id>``
for the most recent ones that ended (at most :data:`DECIDED_KEEP`, none older than :data:`DECIDED_TTL`), so
that a decision arriving after the end is refused with the reason ("too late: timed_out", "already approved
by ana"). ``add``, ``decide``, ``conclude`` and ``expire`` are exclusive: they run one at a time per tenant,
which is what makes "decided first" and "timed out first" mutually exclusive. ``list`` is shared and answers
even while an update is queued.

The object's name is ``Approvals``, or ``<namespace>.Approvals`` with ``approvals_object(namespace=...)``; that
call also tells :func:`~resilient_agents.approvals.await_approval` in this process which name to use.
"""

from __future__ import annotations

import os
from datetime import timedelta

import restate
from pydantic import BaseModel

from resilient_agents._durable import TypeAdapterSerde as AdapterSerde
from resilient_agents._durable import durable_time
from resilient_agents._progress import install as install_progress_driver
from resilient_agents.access import APPROVER_TOKEN_ENV, check_approver
from resilient_agents.errors import ConfigurationError

from ._types import (
    APPROVALS_OBJECT,
    DECIDED_PREFIX,
    PENDING_PREFIX,
    ApprovalDecision,
    Conclusion,
    DecidedApproval,
    DecidedStatus,
    DecideRequest,
    PendingApproval,
    registry_name,
)

DECIDED_KEEP = 1000
"""How many ended approvals one tenant remembers (the most recent ones)."""
DECIDED_TTL = timedelta(days=7)
"""How long an ended approval is remembered at most (pruned when the tenant's object next records one)."""

_EXPIRY_GRACE = timedelta(minutes=1)
"""How long after its deadline an entry whose requester never concluded it (e.g. a crash loop) stays."""
_ORDER = "decided-order"
"""State key: ``[[id, decided_at_ms], ...]`` of the remembered ended approvals, oldest first."""


class _Expiry(BaseModel):
    """Body of the delayed self-call that ends an entry left behind after its deadline."""

    id: str
    created_at_ms: int


_APPROVAL_SERDE: AdapterSerde[PendingApproval] = AdapterSerde(PendingApproval)
_DECIDED_SERDE: AdapterSerde[DecidedApproval] = AdapterSerde(DecidedApproval)
_DECIDE_SERDE: AdapterSerde[DecideRequest] = AdapterSerde(DecideRequest)
_DECISION_SERDE: AdapterSerde[ApprovalDecision] = AdapterSerde(ApprovalDecision)
_CONCLUSION_SERDE: AdapterSerde[Conclusion] = AdapterSerde(Conclusion)
_EXPIRY_SERDE: AdapterSerde[_Expiry] = AdapterSerde(_Expiry)
_LIST_SERDE: AdapterSerde[list[PendingApproval]] = AdapterSerde(list[PendingApproval])
_ORDER_SERDE: AdapterSerde[list[tuple[str, int]]] = AdapterSerde(list[tuple[str, int]])
_RAW_SERDE: AdapterSerde[object] = AdapterSerde(object)

_OBJECT: restate.VirtualObject | None = None
_ACTIVE_NAME: str | None = None
_APPROVER_TOKEN: str | None = None


def approvals_object(namespace: str | None = None, *, approver_token: str | None = None) -> restate.VirtualObject:
    """Return the ``Approvals`` Virtual Object (one per process); serve it in your app.

    Handlers, each under the tenant's key (``default`` unless the requester names a tenant):

    * ``add`` (exclusive, internal): store a :class:`PendingApproval` (replacing a pending one with the same id).
    * ``decide`` (exclusive): a person's :class:`DecideRequest` (``{"id", "approved", "by", "note"}``); passes
      the decision to the waiting code and returns the :class:`DecidedApproval`. A decision for an approval
      that already ended fails with HTTP 409 ("too late: timed_out ...", "already approved by ana ..."), one
      for an unknown id with HTTP 404.
    * ``conclude`` (exclusive, internal): the waiting code reports how its wait ended (a :class:`Conclusion`) and gets
      back the decision that holds: a person's decision accepted before wins over a timeout seen at the same time.
    * ``expire`` (exclusive, internal): ends an entry whose requester never concluded it.
    * ``list`` (shared): the tenant's pending approvals, oldest first.

    "Internal" handlers are private to the engine: services call them, the ingress refuses them. ``list`` and
    ``decide`` require the approver credential when one is configured (``approver_token`` or
    ``$RESILIENT_AGENTS_APPROVER_TOKEN`` in the serving process): the caller sends it as the
    ``x-approver-token`` header, as ``resilient-agents approvals`` does; without it they answer 401, with a
    wrong one 403, before reading anything. Configure one in every deployment: ``list`` shows awakeable ids,
    and whoever holds one can resolve it at the ingress (keep ``/restate/awakeables/`` behind your gateway).

    Args:
        namespace: Serve the object as ``<namespace>.Approvals`` (e.g. one per app on a shared engine):
            letters, digits, ``.``, ``_`` and ``-``, starting with a letter. ``None`` returns the object this
            process already built, else one named ``Approvals``. One process serves one approvals object, and
            :func:`await_approval` in this process lists its requests there.
        approver_token: The credential that ``list`` and ``decide`` require; None falls back to
            ``$RESILIENT_AGENTS_APPROVER_TOKEN`` (read at each request); neither: no check (development).

    Returns:
        The object, to pass to ``restate.app(services=[..., approvals_object()])``.

    Raises:
        ConfigurationError: The namespace makes a name restate-server rejects, or this process already built
            the object under another name.
    """
    global _OBJECT, _ACTIVE_NAME, _APPROVER_TOKEN
    if approver_token is not None:
        _APPROVER_TOKEN = approver_token
    if _OBJECT is not None and namespace is None:
        return _OBJECT  # No preference: the object this process already serves (e.g. when durable_app asks).
    name = registry_name(namespace)
    if _OBJECT is not None and _ACTIVE_NAME != name:
        raise ConfigurationError(
            f"this process already serves its approvals object as {_ACTIVE_NAME!r}; cannot also build {name!r}: "
            "pass the same namespace to every approvals_object() (and durable_app) call of one process"
        )
    if _OBJECT is None:
        _OBJECT = _build(name)
        _ACTIVE_NAME = name
    return _OBJECT


def approvals_object_name() -> str:
    """The name of the approvals object that this process's requests are listed in.

    ``Approvals``, or ``<namespace>.Approvals`` once :func:`approvals_object` was called with a namespace.
    """
    return _ACTIVE_NAME or APPROVALS_OBJECT


def prune_decided(order: list[tuple[str, int]], now_ms: int) -> tuple[list[tuple[str, int]], list[str]]:
    """Bound the record of ended approvals: keep the newest :data:`DECIDED_KEEP` within :data:`DECIDED_TTL`.

    Args:
        order: ``(id, decided_at_ms)`` pairs, oldest first, ids unique.
        now_ms: The current time (Unix ms, journaled).

    Returns:
        The pairs to keep (oldest first) and the ids to forget.
    """
    cutoff = now_ms - int(DECIDED_TTL.total_seconds() * 1000)
    keep = [entry for entry in order if entry[1] >= cutoff][-DECIDED_KEEP:]
    kept = {ident for ident, _ in keep}
    return keep, [ident for ident, _ in order if ident not in kept]


def approver_token() -> str | None:
    """The approver credential in force: ``approvals_object(approver_token=...)``, else the environment's."""
    return _APPROVER_TOKEN or os.environ.get(APPROVER_TOKEN_ENV) or None


def _check_approver(ctx: restate.ObjectContext | restate.ObjectSharedContext, name: str, handler: str) -> None:
    token = approver_token()
    if token:  # Only then are the headers read (the handlers' unit tests use a context without them).
        check_approver(token, ctx.request().headers, what=f"{name}/{ctx.key()}/{handler}")


def _build(name: str) -> restate.VirtualObject:
    install_progress_driver()  # Tasks awaiting durable futures at once must not stall (see _progress).
    obj = restate.VirtualObject(
        name,
        description="Requests waiting for a person's decision, one key per tenant; decide with "
        "`resilient-agents approvals` or POST /<this object>/<tenant>/decide.",
    )

    @obj.handler(name="add", input_serde=_APPROVAL_SERDE, ingress_private=True)
    async def add(ctx: restate.ObjectContext, approval: PendingApproval) -> None:
        ctx.set(PENDING_PREFIX + approval.id, approval, serde=_APPROVAL_SERDE)
        if approval.expires_at_ms is not None:
            # The requester normally concludes its entry itself; this catches one that never will.
            wait = timedelta(milliseconds=max(0, approval.expires_at_ms - approval.created_at_ms)) + _EXPIRY_GRACE
            body = _EXPIRY_SERDE.serialize(_Expiry(id=approval.id, created_at_ms=approval.created_at_ms))
            ctx.generic_send(name, "expire", body, key=ctx.key(), send_delay=wait)

    @obj.handler(name="decide", input_serde=_DECIDE_SERDE, output_serde=_DECIDED_SERDE)
    async def decide(ctx: restate.ObjectContext, request: DecideRequest) -> DecidedApproval:
        _check_approver(ctx, name, "decide")
        approval = await ctx.get(PENDING_PREFIX + request.id, serde=_APPROVAL_SERDE)
        if approval is None:
            ended = await ctx.get(DECIDED_PREFIX + request.id, serde=_DECIDED_SERDE)
            if ended is not None:
                raise restate.TerminalError(ended.refusal(), status_code=409)
            raise restate.TerminalError(
                f"no approval {request.id!r} in {name}/{ctx.key()} (ids must match exactly); "
                "`resilient-agents approvals list` shows the pending ones",
                status_code=404,
            )
        decision = request.decision()
        _forward(ctx, approval, decision)
        return await _record(ctx, approval, _status(decision), decision)

    @obj.handler(name="conclude", input_serde=_CONCLUSION_SERDE, output_serde=_DECISION_SERDE, ingress_private=True)
    async def conclude(ctx: restate.ObjectContext, conclusion: Conclusion) -> ApprovalDecision:
        approval = await ctx.get(PENDING_PREFIX + conclusion.id, serde=_APPROVAL_SERDE)
        if approval is not None and conclusion.created_at_ms in (None, approval.created_at_ms):
            if conclusion.decision is None:
                record = await _record(ctx, approval, "withdrawn", None)
                return record.decision()
            await _record(ctx, approval, _status(conclusion.decision), conclusion.decision)
            return conclusion.decision
        ended = await ctx.get(DECIDED_PREFIX + conclusion.id, serde=_DECIDED_SERDE)
        if ended is not None and conclusion.created_at_ms in (None, ended.created_at_ms):
            return ended.decision()  # Decided (or expired) before the waiter stopped waiting: that holds.
        return conclusion.decision or ApprovalDecision(approved=False, note="withdrawn")

    @obj.handler(name="expire", input_serde=_EXPIRY_SERDE, ingress_private=True)
    async def expire(ctx: restate.ObjectContext, expiry: _Expiry) -> None:
        approval = await ctx.get(PENDING_PREFIX + expiry.id, serde=_APPROVAL_SERDE)
        # Only the entry this timer was set for: the same id may have been registered again since.
        if approval is not None and approval.created_at_ms == expiry.created_at_ms:
            decision = ApprovalDecision(approved=False, timed_out=True, note="expired: its requester never concluded")
            await _record(ctx, approval, "timed_out", decision)

    @obj.handler(name="list", kind="shared", output_serde=_LIST_SERDE)
    async def list_pending(ctx: restate.ObjectSharedContext) -> list[PendingApproval]:
        _check_approver(ctx, name, "list")
        pending: list[PendingApproval] = []
        for key in await ctx.state_keys():
            if key.startswith(PENDING_PREFIX):
                approval = await ctx.get(key, serde=_APPROVAL_SERDE)
                if approval is not None:
                    pending.append(approval)
        return sorted(pending, key=lambda a: (a.created_at_ms, a.id))

    return obj


def _status(decision: ApprovalDecision) -> DecidedStatus:
    if decision.timed_out:
        return "timed_out"
    return "approved" if decision.approved else "rejected"


def _forward(ctx: restate.ObjectContext, approval: PendingApproval, decision: ApprovalDecision) -> None:
    """Pass ``decision`` to where the request waits (a journaled one-way action)."""
    target = approval.resolve
    if target.kind == "awakeable" and target.awakeable_id:
        ctx.resolve_awakeable(target.awakeable_id, decision.model_dump(mode="json"), serde=_RAW_SERDE)
    elif target.kind == "workflow" and target.service and target.key and target.handler:
        ctx.generic_send(target.service, target.handler, _DECISION_SERDE.serialize(decision), key=target.key)
    else:
        raise restate.TerminalError(
            f"approval {approval.id!r} has an incomplete resolve target {target.model_dump_json()}; "
            "register it with an awakeable id, or a workflow service, key and handler",
            status_code=422,
        )


async def _record(
    ctx: restate.ObjectContext, approval: PendingApproval, status: DecidedStatus, decision: ApprovalDecision | None
) -> DecidedApproval:
    """Move ``approval`` from pending to the bounded record of ended approvals."""
    now_ms = int(await durable_time(ctx) * 1000)
    note = decision.note if decision is not None else "the requester stopped waiting"
    record = DecidedApproval(
        id=approval.id,
        title=approval.title,
        status=status,
        by=decision.by if decision is not None else None,
        note=note,
        created_at_ms=approval.created_at_ms,
        decided_at_ms=now_ms,
    )
    ctx.clear(PENDING_PREFIX + approval.id)
    ctx.set(DECIDED_PREFIX + approval.id, record, serde=_DECIDED_SERDE)
    order = [entry for entry in await ctx.get(_ORDER, serde=_ORDER_SERDE) or [] if entry[0] != approval.id]
    keep, forget = prune_decided([*order, (approval.id, now_ms)], now_ms)
    for ident in forget:
        ctx.clear(DECIDED_PREFIX + ident)
    ctx.set(_ORDER, keep, serde=_ORDER_SERDE)
    return record
