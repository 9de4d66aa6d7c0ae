"""The bank's records (an account with transactions and loans) and the demo data every new account gets.

Money is kept in integer cents, so sums are exact; the tools show it as text with two decimals. Everything
here is pure: :func:`generate_account` runs inside one journaled step, so a replay reuses its result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ACCOUNT_SCHEMA_VERSION: Literal[1] = 1
"""Version of :class:`AccountData`, the Account object's stored state."""

CURRENCY = "EUR"
"""The currency of every demo account."""

LoanKind = Literal["mortgage", "car loan", "personal loan", "credit card", "credit line"]
"""What kind of credit a :class:`Loan` is."""


class Transaction(BaseModel):
    """One booking on the account: negative amounts leave the account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    """Unique within the account, e.g. ``t-0042``."""
    date: dt.date
    """The booking date."""
    amount_cents: int
    """Signed amount in cents (negative: money out)."""
    category: str
    """E.g. ``gambling``, ``groceries``, ``salary``, ``transfer``, ``refund``, ``reversal``."""
    description: str
    """What the bank statement says."""


class Loan(BaseModel):
    """A loan or a credit facility of the customer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    """E.g. ``L-1001`` or the approval's workflow key."""
    kind: LoanKind
    """What kind of credit it is."""
    principal_cents: int
    """The amount borrowed, or the credit limit of a card or credit line."""
    outstanding_cents: int
    """What is still owed."""
    interest_rate_percent: float
    """Yearly interest rate."""
    monthly_payment_cents: int
    """The monthly instalment (0 for credit lines without a fixed plan)."""
    opened: dt.date
    """When it started."""
    purpose: str = ""
    """What it is for."""


class AccountData(BaseModel):
    """Everything the bank knows about one customer's account: the Account object's state."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = ACCOUNT_SCHEMA_VERSION
    """Version of this record."""
    customer_id: str
    """The Account object's key (the session's key)."""
    owner: str
    """The customer's name."""
    currency: str = CURRENCY
    """The account's currency."""
    balance_cents: int
    """The current balance in cents."""
    transactions: list[Transaction] = Field(default_factory=list)
    """Bookings, oldest first."""
    loans: list[Loan] = Field(default_factory=list)
    """Loans and credit facilities."""


def money(cents: int) -> str:
    """Cents as text with two decimals and thousands separators, e.g. ``-1,234.50``.

    Args:
        cents: The amount in cents.

    Returns:
        The text.
    """
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{rest:02d}"


def to_cents(amount: float) -> int:
    """An amount in currency units (as a model writes it) in cents, rounded to the nearest cent."""
    return round(amount * 100)


def month_of(today: dt.date, which: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a month: ``this_month``, ``last_month`` or ``YYYY-MM``.

    Args:
        today: The reference day.
        which: The month.

    Returns:
        The first and last day.

    Raises:
        ValueError: For anything else.
    """
    if which == "this_month":
        first = today.replace(day=1)
    elif which == "last_month":
        first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    else:
        try:
            first = dt.datetime.strptime(which, "%Y-%m").date()
        except ValueError:
            raise ValueError(f"unknown month {which!r}: use 'this_month', 'last_month' or 'YYYY-MM'") from None
    try:
        following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    except OverflowError:  # December 9999: the month after is past the last date Python knows.
        raise ValueError(f"month {which!r} is out of range") from None
    return first, following - dt.timedelta(days=1)


# -- demo data ------------------------------------------------------------------------------------------------

_NAMES = ("Alex", "Sam", "Robin", "Kim", "Jo", "Charlie", "Max", "Toni")
_SURNAMES = ("Meyer", "Novak", "Garcia", "Smith", "Rossi", "Jansen", "Kowalski", "Dubois")
# (category, description, (min, max) euros per booking, bookings per month); negative: money out.
_SPENDING = (
    ("groceries", "Supermarket", (-95, -20), 6),
    ("restaurants", "Restaurant", (-80, -15), 3),
    ("transport", "Public transport", (-40, -3), 4),
    ("shopping", "Online shop", (-150, -10), 2),
    ("gambling", "Online casino", (-120, -10), 3),
    ("utilities", "Electricity and internet", (-140, -90), 1),
)


def _rng(customer_id: str) -> random.Random:
    seed = int.from_bytes(hashlib.sha256(customer_id.encode()).digest()[:8], "big")
    return random.Random(seed)  # Seeded per customer; the result is journaled anyway.


def generate_account(customer_id: str, today: dt.date) -> AccountData:
    """The demo account of a new customer: about three months of bookings and a few loans.

    Deterministic for a customer id and a day, so the demo is reproducible.

    Args:
        customer_id: The customer (the Account object's key).
        today: The day the account is created (from the journal, ``ctx.time()``).

    Returns:
        The account.
    """
    rng = _rng(customer_id)
    owner = f"{rng.choice(_NAMES)} {rng.choice(_SURNAMES)}"
    bookings: list[tuple[dt.date, int, str, str]] = []
    first_month = month_of(today, "last_month")[0]
    first_month = (first_month - dt.timedelta(days=1)).replace(day=1)  # Two full months back, and this month.
    month = first_month
    while month <= today:
        last_day = month_of(month, "this_month")[1]
        days = (min(last_day, today) - month).days + 1
        bookings.append((month, rng.randint(2800, 4200) * 100, "salary", "Salary"))
        if days >= 3:
            bookings.append((month + dt.timedelta(days=2), -rng.randint(900, 1400) * 100, "rent", "Rent"))
        for category, description, (low, high), count in _SPENDING:
            for _ in range(count):
                day = month + dt.timedelta(days=rng.randrange(days))
                cents = rng.randint(low * 100, high * 100)
                bookings.append((day, cents, category, description))
        month = last_day + dt.timedelta(days=1)
    bookings.sort(key=lambda booking: booking[0])
    transactions = [
        Transaction(id=f"t-{index:04d}", date=day, amount_cents=cents, category=category, description=text)
        for index, (day, cents, category, text) in enumerate(bookings, start=1)
    ]
    opening = rng.randint(500, 5000) * 100
    return AccountData(
        customer_id=customer_id,
        owner=owner,
        balance_cents=opening + sum(t.amount_cents for t in transactions),
        transactions=transactions,
        loans=_demo_loans(rng, today),
    )


def _demo_loans(rng: random.Random, today: dt.date) -> list[Loan]:
    car = rng.randint(80, 200) * 100_00
    card_limit = rng.choice((2000, 3000, 5000)) * 100
    return [
        Loan(
            id="L-1001",
            kind="car loan",
            principal_cents=car,
            outstanding_cents=car * rng.randint(30, 80) // 100,
            interest_rate_percent=4.9,
            monthly_payment_cents=car // 48,
            opened=today - dt.timedelta(days=rng.randint(300, 900)),
            purpose="Car",
        ),
        Loan(
            id="L-1002",
            kind="credit card",
            principal_cents=card_limit,
            outstanding_cents=card_limit * rng.randint(5, 60) // 100,
            interest_rate_percent=17.9,
            monthly_payment_cents=0,
            opened=today - dt.timedelta(days=rng.randint(400, 1500)),
            purpose="Credit card",
        ),
    ]
