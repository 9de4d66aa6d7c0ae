"""``Account``: a Virtual Object keyed by customer id holding that customer's balance, bookings and loans.

The agents' tools call it with the SESSION's key (see ``object_tool``), never with a key the model wrote.
A new account gets demo data once, in the journaled step ``generate demo data``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import restate
from pydantic import BaseModel, ConfigDict, Field

from resilient_agents._durable import durable_time
from resilient_agents.loop import PydanticSerde

from .data import AccountData, Loan, Transaction, generate_account, money, month_of

ACCOUNT_OBJECT = "Account"
"""The Virtual Object's name."""
STATE_KEY = "account"
"""The state key of the :class:`AccountData`."""

_DATA_SERDE: PydanticSerde[AccountData] = PydanticSerde(AccountData)
_DEFAULT_CATEGORY_LIMIT = 20

# Reached only by the bank's agent tools and services, never from the ingress: a caller must not move money by
# posting to /Account/<someone>/withdraw (the session object checks who may talk to which customer's agent).
account = restate.VirtualObject(
    ACCOUNT_OBJECT, description="A customer's bank account, keyed by customer id.", ingress_private=True
)


class MonthQuery(BaseModel):
    """Which bookings to look at (filled by the model)."""

    model_config = ConfigDict(extra="forbid")

    month: str = Field("last_month", description="'this_month', 'last_month' or a month as 'YYYY-MM'.")
    category: str | None = Field(
        None, description="Only this category, e.g. 'gambling', 'groceries', 'restaurants', 'salary'; all if empty."
    )


class Movement(BaseModel):
    """Money booked onto or off the account by another service (transfers, payouts, compensations)."""

    model_config = ConfigDict(extra="forbid")

    amount_cents: int = Field(gt=0)
    """How much, in cents (always positive; the handler decides the sign)."""
    category: str
    """The booking's category, e.g. ``transfer``, ``refund``, ``reversal``."""
    description: str
    """The statement text."""
    allow_overdraft: bool = False
    """Whether a withdrawal may take the balance below zero (compensations must not fail)."""


class LoanPayout(BaseModel):
    """A new, approved loan: recorded and paid out in one step."""

    model_config = ConfigDict(extra="forbid")

    loan_id: str
    amount_cents: int = Field(gt=0)
    term_months: int = Field(gt=0)
    purpose: str = ""
    interest_rate_percent: float = 6.5


async def _today(ctx: restate.ObjectContext) -> dt.date:
    return dt.datetime.fromtimestamp(await durable_time(ctx), tz=dt.UTC).date()


async def load(ctx: restate.ObjectContext) -> AccountData:
    """The account's data; a new account gets its demo data once, in a journaled step.

    Args:
        ctx: The Account handler's context.

    Returns:
        The data.
    """
    stored = await ctx.get(STATE_KEY, serde=_DATA_SERDE)
    if stored is not None:
        return stored
    customer, today = ctx.key(), await _today(ctx)

    async def generate() -> AccountData:
        return generate_account(customer, today)

    data = await ctx.run_typed("generate demo data", generate, restate.RunOptions(serde=_DATA_SERDE))
    ctx.set(STATE_KEY, data, serde=_DATA_SERDE)
    return data


def _book(ctx: restate.ObjectContext, data: AccountData, cents: int, movement: Movement, today: dt.date) -> None:
    transaction = Transaction(
        id=f"t-{len(data.transactions) + 1:04d}",
        date=today,
        amount_cents=cents,
        category=movement.category,
        description=movement.description,
    )
    data.transactions.append(transaction)
    data.balance_cents += cents
    ctx.set(STATE_KEY, data, serde=_DATA_SERDE)


def _booking(transaction: Transaction) -> dict[str, str]:
    return {
        "date": transaction.date.isoformat(),
        "amount": money(transaction.amount_cents),
        "category": transaction.category,
        "description": transaction.description,
    }


def _selected(data: AccountData, query: MonthQuery, today: dt.date) -> tuple[str, list[Transaction]]:
    try:
        first, last = month_of(today, query.month)
    except ValueError as error:
        raise restate.TerminalError(str(error), status_code=400) from None
    category = (query.category or "").strip().lower()
    chosen = [t for t in data.transactions if first <= t.date <= last and (not category or t.category == category)]
    return first.strftime("%Y-%m"), chosen


@account.handler()
async def balance(ctx: restate.ObjectContext) -> dict[str, Any]:
    """The customer's balance."""
    data = await load(ctx)
    return {"owner": data.owner, "balance": money(data.balance_cents), "currency": data.currency}


@account.handler()
async def transactions(ctx: restate.ObjectContext, query: MonthQuery) -> dict[str, Any]:
    """The customer's bookings in one month (optionally of one category)."""
    data = await load(ctx)
    month, chosen = _selected(data, query, await _today(ctx))
    return {
        "month": month,
        "category": query.category or "all",
        "count": len(chosen),
        "currency": data.currency,
        "transactions": [_booking(t) for t in chosen[-_DEFAULT_CATEGORY_LIMIT:]],
    }


@account.handler()
async def spending(ctx: restate.ObjectContext, query: MonthQuery) -> dict[str, Any]:
    """How much the customer spent in one month (optionally in one category): the sum of the money out."""
    data = await load(ctx)
    month, chosen = _selected(data, query, await _today(ctx))
    out = [t for t in chosen if t.amount_cents < 0]
    return {
        "month": month,
        "category": query.category or "all",
        "total": money(-sum(t.amount_cents for t in out)),
        "currency": data.currency,
        "count": len(out),
        "transactions": [_booking(t) for t in out],
    }


@account.handler()
async def loans(ctx: restate.ObjectContext) -> dict[str, Any]:
    """The customer's loans and credit facilities."""
    data = await load(ctx)
    return {
        "count": len(data.loans),
        "total_outstanding": money(sum(loan.outstanding_cents for loan in data.loans)),
        "currency": data.currency,
        "loans": [_loan(loan) for loan in data.loans],
    }


def _loan(loan: Loan) -> dict[str, str]:
    limit_or_principal = "credit_limit" if loan.kind in ("credit card", "credit line") else "principal"
    return {
        "id": loan.id,
        "kind": loan.kind,
        limit_or_principal: money(loan.principal_cents),
        "outstanding": money(loan.outstanding_cents),
        "interest_rate": f"{loan.interest_rate_percent:g}%",
        "monthly_payment": money(loan.monthly_payment_cents),
    }


@account.handler()
async def withdraw(ctx: restate.ObjectContext, movement: Movement) -> dict[str, str]:
    """Take money off the account; fails terminally (and changes nothing) when the balance is too low."""
    data = await load(ctx)
    if not movement.allow_overdraft and data.balance_cents < movement.amount_cents:
        raise restate.TerminalError(
            f"insufficient funds: the balance is {money(data.balance_cents)} {data.currency}, "
            f"{money(movement.amount_cents)} were requested",
            status_code=409,
        )
    _book(ctx, data, -movement.amount_cents, movement, await _today(ctx))
    return {"balance": money(data.balance_cents)}


@account.handler()
async def deposit(ctx: restate.ObjectContext, movement: Movement) -> dict[str, str]:
    """Put money onto the account."""
    data = await load(ctx)
    _book(ctx, data, movement.amount_cents, movement, await _today(ctx))
    return {"balance": money(data.balance_cents)}


@account.handler()
async def open_loan(ctx: restate.ObjectContext, payout: LoanPayout) -> dict[str, str]:
    """Record an approved loan and pay its amount out onto the account (one atomic step)."""
    data = await load(ctx)
    today = await _today(ctx)
    if any(loan.id == payout.loan_id for loan in data.loans):  # Already paid out (a repeated request).
        return {"balance": money(data.balance_cents)}
    rate = payout.interest_rate_percent / 100 / 12
    monthly = payout.amount_cents * rate / (1 - (1 + rate) ** -payout.term_months)
    data.loans.append(
        Loan(
            id=payout.loan_id,
            kind="personal loan",
            principal_cents=payout.amount_cents,
            outstanding_cents=payout.amount_cents,
            interest_rate_percent=payout.interest_rate_percent,
            monthly_payment_cents=round(monthly),
            opened=today,
            purpose=payout.purpose,
        )
    )
    movement = Movement(amount_cents=payout.amount_cents, category="loan", description=f"Loan {payout.loan_id}")
    _book(ctx, data, payout.amount_cents, movement, today)
    return {"balance": money(data.balance_cents)}


@account.handler(kind="shared", output_serde=_DATA_SERDE)
async def summary(ctx: restate.ObjectSharedContext) -> AccountData | None:
    """All of the account's data, for bank staff and tests (not offered to the agents); ``null`` if new."""
    return await ctx.get(STATE_KEY, serde=_DATA_SERDE)
