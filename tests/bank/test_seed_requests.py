"""Acceptance 1: the seed's three requests, answered by the offline demo model from the Account's data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from examples.bank.data import CURRENCY, month_of
from examples.bank.data import money as fmt
from examples.bank.demo import DEMO_RULES, DEMO_TEMPLATES

from resilient_agents.models import DemoModel
from resilient_agents.testing import AgentTestEnv

from .conftest import account

pytestmark = pytest.mark.engine


def test_seed_requests_with_the_demo_model(bank_env: Callable[..., AgentTestEnv]) -> None:
    env = bank_env(model=DemoModel(rules=DEMO_RULES, answer_templates=DEMO_TEMPLATES))

    balance = env.call("BankSession/alice/message", "how much is my balance?")
    assert balance.status_code == 200, balance.text
    data = account(env, "alice")
    assert balance.json() == f"Your balance is {fmt(data.balance_cents)} {CURRENCY}."
    named = [e.name for e in env.journal(balance.headers["x-restate-id"]) if e.name.startswith("llm:")]
    assert named == ["llm: intake_agent #1", "llm: banking_agent #2", "llm: banking_agent #3"]

    gambling = env.call("BankSession/alice/message", "how much did I spend on gambling last month?")
    assert gambling.status_code == 200, gambling.text
    first, last = month_of(dt.datetime.now(dt.UTC).date(), "last_month")
    bookings = [t for t in data.transactions if t.category == "gambling" and first <= t.date <= last]
    assert bookings, "the demo data has gambling bookings last month"
    total = -sum(t.amount_cents for t in bookings)
    assert gambling.json() == (
        f"You spent {fmt(total)} {CURRENCY} on gambling in {first:%Y-%m} ({len(bookings)} transactions)."
    )

    overview = env.call("BankSession/alice/message", "give me an overview of my outstanding loans and credit")
    assert overview.status_code == 200, overview.text
    text = overview.json()
    assert f"You have {len(data.loans)} loans and credit facilities" in text
    for loan in data.loans:
        assert f"{loan.kind} {loan.id}: {fmt(loan.outstanding_cents)} {CURRENCY} outstanding" in text
    outstanding = sum(loan.outstanding_cents for loan in data.loans)
    assert f"{fmt(outstanding)} {CURRENCY} outstanding in total" in text
