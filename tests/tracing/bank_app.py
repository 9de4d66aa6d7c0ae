"""The bank app plus a tiny back office that opens accounts (the bank's ``Account`` object is private)."""

from __future__ import annotations

from typing import Any

import restate
from examples.bank import agent as bank
from examples.bank.account import balance

staff = restate.Service("TracingStaff", description="Test-only back office: opens a customer's account.")


@staff.handler()
async def open_account(ctx: restate.Context, customer: str) -> dict[str, Any]:
    """Create the customer's account (with its demo data) by reading its balance."""
    return await ctx.object_call(balance, key=customer, arg=None)


app = restate.app(services=[*bank.SERVICES, staff])
