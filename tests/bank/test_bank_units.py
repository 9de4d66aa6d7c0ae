"""Unit tests of the bank example's pure parts: demo data, months, money, and the demo model's rules."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from examples.bank.data import generate_account, money, month_of, to_cents
from examples.bank.demo import DEMO_RULES, DEMO_TEMPLATES
from examples.bank.loans import LoanRequest
from examples.bank.transfers import TransferRequest
from pydantic import ValidationError

from resilient_agents.models import DemoModel, Message, ParsedRequest, Reply, ToolCall, ToolSpec

TODAY = dt.date(2026, 11, 22)


def test_money_and_months() -> None:
    assert money(-123456) == "-1,234.56"
    assert money(5) == "0.05"
    assert to_cents(25.5) == 2550
    assert month_of(TODAY, "last_month") == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert month_of(dt.date(2026, 1, 5), "last_month") == (dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    assert month_of(TODAY, "2024-02") == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    with pytest.raises(ValueError, match="unknown month"):
        month_of(TODAY, "someday")
    # A month the model may well write, which once raised OverflowError (retried forever by Restate).
    with pytest.raises(ValueError, match="out of range"):
        month_of(TODAY, "9999-12")
    assert month_of(TODAY, "9999-11") == (dt.date(9999, 11, 1), dt.date(9999, 11, 30))


@pytest.mark.parametrize("amount", [0.001, 0.004, 0.0])
def test_amounts_below_one_cent_are_argument_errors(amount: float) -> None:
    # They would round to 0 cents, which the bookings refuse with a ValidationError inside the handler: not
    # terminal, so Restate would retry the transfer (and the session waiting on it) forever.
    with pytest.raises(ValidationError):
        TransferRequest(to_customer="bob", amount=amount)
    with pytest.raises(ValidationError):
        LoanRequest(amount=amount)
    assert to_cents(0.01) == 1


def test_demo_data_is_deterministic_and_consistent() -> None:
    data = generate_account("alice", TODAY)
    assert data == generate_account("alice", TODAY)
    assert data != generate_account("bob", TODAY)
    first, last = month_of(TODAY, "last_month")
    assert any(t.category == "gambling" and first <= t.date <= last for t in data.transactions)
    assert all(t.date <= TODAY for t in data.transactions)
    assert [t.id for t in data.transactions] == [f"t-{i:04d}" for i in range(1, len(data.transactions) + 1)]
    assert {loan.kind for loan in data.loans} == {"car loan", "credit card"}


def _request(messages: list[Message], tools: list[str]) -> ParsedRequest:
    return ParsedRequest("responses", "offline-demo", "", messages, [ToolSpec(name) for name in tools], {})


BANKING_TOOLS = ["get_balance", "get_transactions", "get_spending", "transfer_money", "remind_me"]
BANKING_TOOLS += ["transfer_to_loan_agent", "transfer_to_intake_agent"]


@pytest.mark.parametrize(
    ("text", "tools", "call"),
    [
        ("how much is my balance?", ["remind_me", "transfer_to_banking_agent"], ToolCall("transfer_to_banking_agent")),
        ("how much is my balance?", BANKING_TOOLS, ToolCall("get_balance")),
        (
            "how much did I spend on gambling last month?",
            BANKING_TOOLS,
            ToolCall("get_spending", {"month": "last_month", "category": "gambling"}),
        ),
        ("give me an overview of my outstanding loans and credit", BANKING_TOOLS, ToolCall("transfer_to_loan_agent")),
        (
            "remind me in 2 seconds to call the bank",
            BANKING_TOOLS,
            ToolCall("remind_me", {"delay_seconds": 2.0, "text": "call the bank"}),
        ),
        ("Send 25.50 to Bob", BANKING_TOOLS, ToolCall("transfer_money", {"to_customer": "bob", "amount": 25.5})),
        (
            "I'd like a loan of 20,000 for a car over 48 months",
            ["get_loans", "request_loan"],
            ToolCall("request_loan", {"amount": 20000.0, "term_months": 48, "purpose": "car"}),
        ),
    ],
)
def test_demo_rules_pick_the_tool_or_the_handoff(text: str, tools: list[str], call: ToolCall) -> None:
    model = DemoModel(rules=DEMO_RULES, answer_templates=DEMO_TEMPLATES)
    reply = model.respond(_request([Message("user", text)], tools))
    assert isinstance(reply, Reply)
    assert reply.tool_calls == (call,)


def test_demo_rules_act_on_the_message_after_a_handoff_and_phrase_lists() -> None:
    model = DemoModel(rules=DEMO_RULES, answer_templates=DEMO_TEMPLATES)
    handed = [
        Message("user", "give me an overview of my outstanding loans and credit"),
        Message("assistant", tool_calls=(ToolCall("transfer_to_loan_agent", call_id="c1"),)),
        Message("tool", "Transferred", call_id="c1", tool_name="transfer_to_loan_agent"),
    ]
    reply = model.respond(_request(handed, ["get_loans", "request_loan"]))
    assert isinstance(reply, Reply) and reply.tool_calls == (ToolCall("get_loans"),)

    loans = {
        "count": 1,
        "total_outstanding": "900.00",
        "loans": [
            {
                "id": "L-1",
                "kind": "car loan",
                "principal": "1,000.00",
                "outstanding": "900.00",
                "interest_rate": "4.9%",
                "monthly_payment": "50.00",
            }
        ],
    }
    answered = [
        *handed,
        Message("assistant", tool_calls=(ToolCall("get_loans", call_id="c2"),)),
        Message("tool", json.dumps(loans), call_id="c2", tool_name="get_loans"),
    ]
    reply = model.respond(_request(answered, ["get_loans"]))
    assert isinstance(reply, Reply)
    assert reply.text == (
        "You have 1 loans and credit facilities with 900.00 EUR outstanding in total: car loan L-1: 900.00 EUR "
        "outstanding (borrowed 1,000.00, 4.9% interest, 50.00 per month)."
    )
