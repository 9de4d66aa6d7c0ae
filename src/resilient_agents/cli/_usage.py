"""The tokens section of ``resilient-agents sessions show``: tokens per turn, the session total, and the cost
when a price is known. Private module; imports neither the Agents SDK nor the Restate SDK.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import ValidationError

from resilient_agents.errors import ConfigurationError
from resilient_agents.usage import SessionUsage, load_prices, usage_json

_HEADER = ["TURN", "MODEL", "REQUESTS", "INPUT", "OUTPUT", "COST"]


def usage_lines(usage: Any) -> list[str]:
    """Render the ``usage`` field of a ``history`` answer.

    Costs come from the price table in this process's environment (:data:`~resilient_agents.usage.PRICES_ENV`)
    when it has one, else from the service's answer (its ``prices=`` or its environment).

    Args:
        usage: The field's value; ``None`` (a service without usage counting) renders nothing.

    Returns:
        The lines to print.
    """
    if not isinstance(usage, dict):
        return []
    answer = _priced_here(usage)
    turns: list[dict[str, Any]] = answer.get("turns") or []
    if not turns:
        return ["tokens: no turn has run yet"]
    rows = [_HEADER]
    rows.extend([str(t.get("turn")), str(t.get("model") or "?"), *_numbers(t)] for t in turns)
    total: dict[str, Any] = answer.get("total") or {}
    rows.append(["total", "", *_numbers(total)])
    if not any("cost_usd" in entry for entry in [*turns, total]):
        rows = [row[:-1] for row in rows]  # No price known: no cost column.
    lines = ["tokens:", *(f"  {line}" for line in _aligned(rows))]
    first_listed = turns[0].get("turn")
    if isinstance(first_listed, int) and first_listed > 1:
        lines.append(f"  (turns 1-{first_listed - 1} are not listed; the total covers them)")
    unpriced = _unpriced_models(answer)
    if unpriced and any("cost_usd" in entry for entry in answer.get("by_model") or []):
        lines.append(f"  (no price for {', '.join(unpriced)}: the total cost is not known)")
    return lines


def _priced_here(usage: dict[str, Any]) -> dict[str, Any]:
    try:
        prices = load_prices()
    except ConfigurationError as error:
        print(f"warning: {error}", file=sys.stderr)
        return usage
    if not prices:
        return usage
    try:
        stored = SessionUsage.model_validate(_without_costs(usage))
    except ValidationError:
        return usage  # A newer service's record: show it as it came.
    return usage_json(stored, prices)


def _without_costs(usage: dict[str, Any]) -> dict[str, Any]:
    def strip(entries: Any) -> list[Any]:
        return [
            {k: v for k, v in entry.items() if k != "cost_usd"} if isinstance(entry, dict) else entry
            for entry in (entries or [])
        ]

    return {
        **{k: v for k, v in usage.items() if k != "total"},
        "turns": strip(usage.get("turns")),
        "by_model": strip(usage.get("by_model")),
    }


def _unpriced_models(answer: dict[str, Any]) -> list[str]:
    return [
        str(entry.get("model") or "?")
        for entry in answer.get("by_model") or []
        if "cost_usd" not in entry and (entry.get("input_tokens") or entry.get("output_tokens"))
    ]


def _numbers(entry: dict[str, Any]) -> list[str]:
    cost = entry.get("cost_usd")
    return [
        f"{entry.get('requests', 0):,}",
        f"{entry.get('input_tokens', 0):,}",
        f"{entry.get('output_tokens', 0):,}",
        format_cost(cost) if isinstance(cost, int | float) else "-",
    ]


def format_cost(cost: float) -> str:
    """US dollars: six decimals below a dollar (model calls cost fractions of a cent), else cents."""
    return f"${cost:.6f}" if cost < 1 else f"${cost:,.2f}"


def _aligned(rows: list[list[str]]) -> list[str]:
    # Names left-aligned, numbers right-aligned, so the columns of figures read like a bill.
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return lines
