"""The ``Approvals`` Virtual Object: the list of requests waiting for a person. Private module.

All pending approvals live under the one key ``"pending"``, so a person (or the CLI) reads them with one
call. Adding and removing are exclusive handlers (they run one at a time, so no update is lost); listing
is shared, so it answers even while an update is queued.
"""

from __future__ import annotations

from datetime import timedelta

import restate
from pydantic import BaseModel

from resilient_agents._durable import TypeAdapterSerde as AdapterSerde

from ._types import APPROVALS_OBJECT, PendingApproval

_STATE = "approvals"
_EXPIRY_GRACE = timedelta(minutes=1)
"""How long after its deadline an entry whose requester never withdrew it (e.g. a cancelled invocation) stays."""

_STATE_SERDE: AdapterSerde[dict[str, PendingApproval]] = AdapterSerde(dict[str, PendingApproval])
_APPROVAL_SERDE: AdapterSerde[PendingApproval] = AdapterSerde(PendingApproval)
_LIST_SERDE: AdapterSerde[list[PendingApproval]] = AdapterSerde(list[PendingApproval])
_ID_SERDE: AdapterSerde[str] = AdapterSerde(str)


class _Expiry(BaseModel):
    """Body of the delayed self-call that drops an entry left behind after its deadline."""

    id: str
    created_at_ms: int


_EXPIRY_SERDE: AdapterSerde[_Expiry] = AdapterSerde(_Expiry)
_OBJECT: restate.VirtualObject | None = None


def approvals_object() -> restate.VirtualObject:
    """Return the ``Approvals`` Virtual Object (one instance per process); serve it in your app.

    Handlers, all under the key ``"pending"``:

    * ``add`` (exclusive): store a :class:`PendingApproval` (replacing one with the same id).
    * ``remove`` (exclusive): drop the approval with this id (a JSON string); unknown ids are ignored.
    * ``list`` (shared): all pending approvals, oldest first.

    Returns:
        The object, to pass to ``restate.app(services=[..., approvals_object()])``.
    """
    global _OBJECT
    if _OBJECT is None:
        _OBJECT = _build()
    return _OBJECT


def _build() -> restate.VirtualObject:
    obj = restate.VirtualObject(
        APPROVALS_OBJECT,
        description="Requests waiting for a person's decision; decide with `resilient-agents approvals`.",
    )

    @obj.handler(name="add", input_serde=_APPROVAL_SERDE)
    async def add(ctx: restate.ObjectContext, approval: PendingApproval) -> None:
        pending = await _load(ctx)
        pending[approval.id] = approval
        ctx.set(_STATE, pending, serde=_STATE_SERDE)
        if approval.expires_at_ms is not None:
            # The requester normally withdraws its entry itself; this catches one that never will.
            wait = timedelta(milliseconds=max(0, approval.expires_at_ms - approval.created_at_ms)) + _EXPIRY_GRACE
            expiry = _Expiry(id=approval.id, created_at_ms=approval.created_at_ms)
            body = _EXPIRY_SERDE.serialize(expiry)
            ctx.generic_send(APPROVALS_OBJECT, "expire", body, key=ctx.key(), send_delay=wait)

    @obj.handler(name="remove", input_serde=_ID_SERDE)
    async def remove(ctx: restate.ObjectContext, approval_id: str) -> None:
        pending = await _load(ctx)
        if pending.pop(approval_id, None) is not None:
            ctx.set(_STATE, pending, serde=_STATE_SERDE)

    @obj.handler(name="expire", input_serde=_EXPIRY_SERDE)
    async def expire(ctx: restate.ObjectContext, expiry: _Expiry) -> None:
        pending = await _load(ctx)
        entry = pending.get(expiry.id)
        # Only the entry this timer was set for: the same id may have been registered again since.
        if entry is not None and entry.created_at_ms == expiry.created_at_ms:
            del pending[expiry.id]
            ctx.set(_STATE, pending, serde=_STATE_SERDE)

    @obj.handler(name="list", kind="shared", output_serde=_LIST_SERDE)
    async def list_pending(ctx: restate.ObjectSharedContext) -> list[PendingApproval]:
        pending = await _load(ctx)
        return sorted(pending.values(), key=lambda a: (a.created_at_ms, a.id))

    return obj


async def _load(ctx: restate.ObjectContext | restate.ObjectSharedContext) -> dict[str, PendingApproval]:
    stored = await ctx.get(_STATE, serde=_STATE_SERDE)
    return dict(stored) if stored else {}
