"""Rules for the offline demo model, so the bank works without an LLM (``resilient-agents up --app bank``).

The demo model is rule-based, not a language model. These rules read the customer's latest message, pick the
tool that answers it (or hand the conversation to the agent that has that tool) and phrase the tool's output.
Every number in an answer comes from a tool output, i.e. from the customer's ``Account``.

Wire them up with ``DemoModel(rules=DEMO_RULES, answer_templates=DEMO_TEMPLATES)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from resilient_agents.models import DemoRule, Message, ParsedRequest, Reply, ToolCall

from .data import CURRENCY

_CATEGORIES = ("gambling", "groceries", "restaurants", "transport", "shopping", "utilities", "rent", "salary")
_NUMBER = re.compile(r"(\d[\d,]*(?:\.\d+)?)")
_MONTH = re.compile(r"\b(\d{4}-\d{2})\b")
_DELAY = re.compile(r"\bin\s+(\d+(?:\.\d+)?)\s*(seconds?|secs?|s|minutes?|mins?|hours?|h)\b", re.IGNORECASE)
_REMINDER_TEXT = re.compile(r"\bto\s+(.+?)[.!?]*$", re.IGNORECASE)
_RECIPIENT = re.compile(r"\bto\s+([A-Za-z][\w-]*)")
_TERM = re.compile(r"(\d+)\s*months?", re.IGNORECASE)
_PURPOSE = re.compile(r"\bfor\s+(?:a|an|my|the)?\s*([a-z][\w -]*?)(?:\s+over\b|[.!?]|$)", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600, "hour": 3600}

# intent -> (tool, agent that has it)
_TOOLS: dict[str, tuple[str, str]] = {
    "remind": ("remind_me", ""),
    "loan_request": ("request_loan", "loan_agent"),
    "loans": ("get_loans", "loan_agent"),
    "transfer": ("transfer_money", "banking_agent"),
    "spending": ("get_spending", "banking_agent"),
    "transactions": ("get_transactions", "banking_agent"),
    "balance": ("get_balance", "banking_agent"),
}


def _intent(text: str) -> str | None:
    words = text.lower()
    has_number = _NUMBER.search(words) is not None
    checks: list[tuple[str, bool]] = [
        ("remind", "remind" in words),
        (
            "loan_request",
            "loan" in words
            and has_number
            and any(w in words for w in ("apply", "borrow", "need", "like", "want", "request", "take")),
        ),
        ("loans", any(w in words for w in ("loan", "credit", "mortgage", "debt"))),
        ("transfer", any(w in words for w in ("transfer", "send", "pay ")) and has_number and " to " in words),
        ("spending", any(w in words for w in ("spend", "spent", "spending"))),
        ("transactions", any(w in words for w in ("transaction", "booking", "statement", "payments"))),
        ("balance", "balance" in words or "how much money" in words),
    ]
    return next((name for name, matched in checks if matched), None)


def _number(text: str) -> float | None:
    found = _NUMBER.search(text)
    return float(found.group(1).replace(",", "")) if found else None


def _month(text: str) -> str:
    lower = text.lower()
    if found := _MONTH.search(lower):
        return found.group(1)
    return "this_month" if "this month" in lower else "last_month"


def _category(text: str) -> str | None:
    lower = text.lower()
    return next((name for name in _CATEGORIES if name in lower or name.rstrip("s") in lower), None)


def _arguments(intent: str, text: str) -> dict[str, Any] | None:
    if intent in ("spending", "transactions"):
        arguments: dict[str, Any] = {"month": _month(text)}
        if category := _category(text):
            arguments["category"] = category
        return arguments
    if intent == "remind":
        delay = _DELAY.search(text)
        seconds = float(delay.group(1)) * _unit(delay.group(2)) if delay else 60.0
        what = _REMINDER_TEXT.search(text[delay.end() :] if delay else text)
        return {"delay_seconds": seconds, "text": what.group(1) if what else "your reminder"}
    if intent == "loan_request":
        term = _TERM.search(text)
        purpose = _PURPOSE.search(text)
        without_term = _TERM.sub("", text)
        amount = _number(without_term)
        if amount is None:
            return None
        return {
            "amount": amount,
            "term_months": int(term.group(1)) if term else 60,
            "purpose": purpose.group(1).strip() if purpose else "",
        }
    if intent == "transfer":
        amount, recipient = _number(text), _RECIPIENT.search(text)
        if amount is None or recipient is None:
            return None
        return {"to_customer": recipient.group(1).lower(), "amount": amount}
    return {}


def _unit(word: str) -> int:
    lower = word.lower().rstrip("s") or "s"
    return _UNIT_SECONDS.get(lower, 1)


def _act(request: ParsedRequest) -> Reply | None:
    """Call the tool for the latest message, or hand over to the agent that has it."""
    text = request.last_user_text
    intent = _intent(text) if text else None
    if text is None or intent is None:
        return None
    tool, agent = _TOOLS[intent]
    if request.tool(tool) is not None:
        arguments = _arguments(intent, text)
        if arguments is None:
            return Reply.say(f"(offline demo model) I could not read the amount or recipient in {text!r}.")
        return Reply(tool_calls=(ToolCall(tool, arguments),))
    handoff = f"transfer_to_{agent}"
    if agent and request.tool(handoff) is not None:
        return Reply(tool_calls=(ToolCall(handoff, {}),))
    return None


def _is_handoff(output: Message) -> bool:
    return (output.tool_name or "").startswith("transfer_to_")


def _loan_line(loan: dict[str, Any]) -> str:
    size = f"limit {loan['credit_limit']}" if "credit_limit" in loan else f"borrowed {loan.get('principal', '?')}"
    return (
        f"{loan['kind']} {loan['id']}: {loan['outstanding']} {CURRENCY} outstanding ({size}, "
        f"{loan['interest_rate']} interest, {loan['monthly_payment']} per month)"
    )


def _loans_answer(data: dict[str, Any]) -> str:
    lines = "; ".join(_loan_line(loan) for loan in data["loans"])
    return (
        f"You have {data['count']} loans and credit facilities with {data['total_outstanding']} {CURRENCY} "
        f"outstanding in total: {lines}."
    )


def _transactions_answer(data: dict[str, Any]) -> str:
    items = "; ".join(f"{t['date']} {t['description']} {t['amount']}" for t in data["transactions"])
    return f"{data['count']} {data['category']} transactions in {data['month']}: {items or 'none'}."


_ANSWERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "get_loans": _loans_answer,
    "get_transactions": _transactions_answer,
}


def _answer(request: ParsedRequest) -> Reply | None:
    """Phrase outputs that templates cannot: lists, and failed tools."""
    outputs = request.trailing_tool_outputs()
    if not outputs or all(_is_handoff(output) for output in outputs):
        return None
    sentences: list[str] = []
    for output in outputs:
        if output.text.startswith("error:"):
            sentences.append(f"Sorry, that did not work: {output.text.removeprefix('error:').strip()}")
        elif output.text.startswith("scheduled:") and output.tool_name == "remind_me":
            sentences.append("Done: I will remind you here" + output.text.split(" runs", 1)[1] + ".")
        elif (render := _ANSWERS.get(output.tool_name or "")) is not None:
            sentences.append(render(json.loads(output.text)))
    return Reply.say(" ".join(sentences)) if sentences else None


def _after_handoff(request: ParsedRequest) -> Reply | None:
    """Right after a handoff the conversation ends with its output: act on the customer's message."""
    outputs = request.trailing_tool_outputs()
    if outputs and all(_is_handoff(output) for output in outputs):
        return _act(request) or Reply.say("How can I help you?")
    return None


def _on_user_message(request: ParsedRequest) -> Reply | None:
    return _act(request) if request.messages and request.messages[-1].role == "user" else None


DEMO_RULES: tuple[DemoRule, ...] = (_answer, _after_handoff, _on_user_message)
"""The bank's demo-model rules, tried in order before the demo model's generic behaviour."""

DEMO_TEMPLATES: dict[str, str] = {
    "get_balance": "Your balance is {balance} {currency}.",
    "get_spending": "You spent {total} {currency} on {category} in {month} ({count} transactions).",
    "transfer_money": "Done: {amount} went to {to}. Your new balance is {new_balance} " + CURRENCY + ".",
    "request_loan": "{message}",
}
"""Answer templates per tool (fields of the tool's JSON output)."""
