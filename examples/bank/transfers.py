"""``Transfers``: moving money between customers as a saga with compensations.

A transfer has three steps, each a durable action with its own journal entry:

1. take the money off the sender's account (``Account/<sender>/withdraw``),
2. book it onto the recipient's account (``Account/<recipient>/deposit``),
3. clear it with the (simulated) clearing house (the journaled step ``transfer: clearing``).

After each of the first two steps a compensation is registered with a :class:`~resilient_agents.loop.Saga`.
When clearing fails terminally (the clearing house refuses blocked recipients), the saga reverses the credit
and refunds the sender, newest first, each exactly once, and the tool's error tells the model what was undone.
"""

from __future__ import annotations

from typing import Any

import restate
from pydantic import BaseModel, ConfigDict, Field

from resilient_agents.loop import Saga

from .account import Movement, deposit, withdraw
from .data import CURRENCY, money, to_cents

TRANSFERS_SERVICE = "Transfers"
"""The service's name."""
BLOCKED_RECIPIENTS = frozenset({"mallory"})
"""Recipients the simulated clearing house refuses (a compliance block), to show the saga at work."""
MAX_TRANSFER = 10_000.0
"""The largest single transfer, in currency units."""

transfers = restate.Service(
    TRANSFERS_SERVICE, description="Money transfers between customers, as sagas.", ingress_private=True
)


class TransferRequest(BaseModel):
    """A transfer as the model fills it in; the sender is the session's customer, never a model argument."""

    model_config = ConfigDict(extra="forbid")

    to_customer: str = Field(description="The recipient's customer id.", min_length=1)
    # At least one cent: a smaller amount rounds to 0 cents, which no booking accepts.
    amount: float = Field(ge=0.01, le=MAX_TRANSFER, description=f"The amount in {CURRENCY}.")
    memo: str = Field("", description="A note for the recipient.")


class TransferOrder(TransferRequest):
    """The transfer as the service receives it: the loop adds the sender from the session."""

    customer_id: str
    """The sender (the session's key, added by the loop)."""


async def _clear(order: TransferOrder) -> str:
    """The simulated clearing house: refuses blocked recipients for good."""
    if order.to_customer in BLOCKED_RECIPIENTS:
        raise restate.TerminalError(
            f"the clearing house rejected the transfer to {order.to_customer!r}: "
            "the recipient is blocked by compliance",
            status_code=422,
        )
    return f"cleared {money(to_cents(order.amount))} {CURRENCY} to {order.to_customer}"


@transfers.handler()
async def transfer(ctx: restate.Context, order: TransferOrder) -> dict[str, Any]:
    """Move money from the session's customer to another customer; undo everything if a later step fails."""
    sender, recipient, cents = order.customer_id, order.to_customer, to_cents(order.amount)
    if sender == recipient:
        raise restate.TerminalError("a transfer needs a recipient other than the sender", status_code=400)
    amount = f"{money(cents)} {CURRENCY}"
    async with Saga() as saga:
        out = Movement(amount_cents=cents, category="transfer", description=f"Transfer to {recipient}: {order.memo}")
        receipt = await ctx.object_call(withdraw, key=sender, arg=out)
        refund = Movement(amount_cents=cents, category="refund", description=f"Refund of transfer to {recipient}")
        saga.add(f"refunded {amount} to {sender}", lambda: ctx.object_call(deposit, key=sender, arg=refund))

        into = Movement(amount_cents=cents, category="transfer", description=f"Transfer from {sender}: {order.memo}")
        await ctx.object_call(deposit, key=recipient, arg=into)
        reverse = Movement(
            amount_cents=cents,
            category="reversal",
            description=f"Reversal of transfer from {sender}",
            allow_overdraft=True,
        )
        saga.add(
            f"reversed the credit of {amount} to {recipient}",
            lambda: ctx.object_call(withdraw, key=recipient, arg=reverse),
        )

        cleared = await ctx.run_typed("transfer: clearing", _clear, order=order)
    return {
        "status": "completed",
        "amount": amount,
        "to": recipient,
        "clearing": cleared,
        "new_balance": receipt["balance"],
    }
