"""Token usage and cost per session: what every turn of a session object used, and the session's total.

Both session objects (``session_object`` on the Agents SDK, ``loop_session_object`` on the native loop) keep a
:class:`SessionUsage` under the state key :data:`USAGE_STATE_KEY`, separate from the conversation, and write it
once per turn together with the turn's last write. The counts come from the model responses in the turn's
journal, so a replay (after a crash or a suspension) counts the same responses again into the same numbers
instead of adding them twice; tokens of an attempt that failed before its response was journaled are not
counted (the provider may still bill them).

The ``history`` handler of both objects answers the usage (see :func:`usage_json`), and
``resilient-agents sessions show`` prints it. With a price table (:data:`PRICES_ENV` or the factories'
``prices=`` argument) the cost in US dollars is shown too, for the models that have a price.

This module imports neither the Agents SDK nor the Restate SDK, so the CLI can use it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from resilient_agents.errors import ConfigurationError

__all__ = [
    "MAX_TURNS_KEPT",
    "PRICES_ENV",
    "USAGE_SCHEMA_VERSION",
    "USAGE_STATE_KEY",
    "ModelPrice",
    "ModelTokens",
    "SessionUsage",
    "TurnUsage",
    "UsageTally",
    "load_prices",
    "price_for",
    "usage_json",
]

USAGE_STATE_KEY = "usage"
"""The Virtual Object state key under which a session object keeps its :class:`SessionUsage`."""

USAGE_SCHEMA_VERSION: Literal[1] = 1
"""Version of :class:`SessionUsage`. Bump it, and keep reading the old one, when the shape changes."""

MAX_TURNS_KEPT = 100
"""How many turns a ``history`` answer lists (the latest); the totals cover every turn."""

PRICES_ENV = "RESILIENT_AGENTS_PRICES"
"""Environment variable with a price table as JSON, in US dollars per million tokens:
``{"gpt-4.1-mini": {"input": 0.4, "output": 1.6}}``."""


class ModelTokens(BaseModel):
    """Requests and tokens of one model."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    """The model name (as the provider reported it, else as configured); ``None`` when unknown."""
    requests: int = 0
    """Model responses counted."""
    input_tokens: int = 0
    """Prompt tokens (0 where the provider reported none)."""
    output_tokens: int = 0
    """Completion tokens (0 where the provider reported none)."""


class TurnUsage(BaseModel):
    """What one turn used with one model (a turn that used two models has two entries with the same number)."""

    model_config = ConfigDict(extra="forbid")

    turn: int
    """The turn's number in the session, from 1; every turn that ran counts, failed and interrupted ones too."""
    model: str | None = None
    """The model name, as in :class:`ModelTokens`."""
    requests: int = 0
    """Model responses counted."""
    input_tokens: int = 0
    """Prompt tokens."""
    output_tokens: int = 0
    """Completion tokens."""


class SessionUsage(BaseModel):
    """A session's token usage: the latest turns and the totals per model. Stored under :data:`USAGE_STATE_KEY`."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = USAGE_SCHEMA_VERSION
    """Schema version of this record."""
    last_turn: int = 0
    """The number of the latest turn recorded (0 before the first)."""
    turns: list[TurnUsage] = Field(default_factory=list)
    """Per turn and model, oldest first; only the latest :data:`MAX_TURNS_KEPT` turns. In state each turn's
    entries live under their own key (``usage:turn:<n>``) and the stored record holds only the totals."""
    by_model: list[ModelTokens] = Field(default_factory=list)
    """Totals of every turn, per model."""

    @property
    def total(self) -> ModelTokens:
        """Totals of every turn, all models together (``model`` is ``None``)."""
        return _sum(self.by_model, None)

    def add_turn(self, tally: UsageTally) -> SessionUsage:
        """Return a copy with one more turn: what ``tally`` counted (a turn without model calls counts too).

        Args:
            tally: The model responses of the turn.

        Returns:
            The new record (this one is not changed).
        """
        number = self.last_turn + 1
        counted = tally.per_model() or [ModelTokens()]
        turns = [*self.turns, *(TurnUsage(turn=number, **entry.model_dump()) for entry in counted)]
        first_kept = number - MAX_TURNS_KEPT + 1
        totals = {entry.model: entry for entry in self.by_model}
        for entry in tally.per_model():
            totals[entry.model] = _sum([totals.get(entry.model, ModelTokens(model=entry.model)), entry], entry.model)
        return SessionUsage(
            last_turn=number,
            turns=[entry for entry in turns if entry.turn >= first_kept],
            by_model=list(totals.values()),
        )


class UsageTally:
    """Counts the model responses of one turn, per model, in memory; nothing here is durable.

    Feed it every response of the turn, journaled ones included, in the order the turn sees them: a replay feeds
    the same responses again into a new tally, so the counts come out the same.
    """

    def __init__(self) -> None:
        self._by_model: dict[str | None, ModelTokens] = {}

    def add(self, model: str | None, input_tokens: int | None, output_tokens: int | None, requests: int = 1) -> None:
        """Count one model response.

        Args:
            model: The model name, or ``None`` when unknown.
            input_tokens: Prompt tokens, or ``None`` when the provider reported none.
            output_tokens: Completion tokens, or ``None``.
            requests: How many requests the response stands for (1).
        """
        known = self._by_model.get(model, ModelTokens(model=model))
        self._by_model[model] = ModelTokens(
            model=model,
            requests=known.requests + requests,
            input_tokens=known.input_tokens + (input_tokens or 0),
            output_tokens=known.output_tokens + (output_tokens or 0),
        )

    def per_model(self) -> list[ModelTokens]:
        """The counts per model, in the order the models were first seen."""
        return list(self._by_model.values())


def _sum(entries: Iterable[ModelTokens], model: str | None) -> ModelTokens:
    listed = list(entries)
    return ModelTokens(
        model=model,
        requests=sum(e.requests for e in listed),
        input_tokens=sum(e.input_tokens for e in listed),
        output_tokens=sum(e.output_tokens for e in listed),
    )


class ModelPrice(BaseModel):
    """The price of one model in US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    """Dollars per million prompt tokens."""
    output: float = Field(ge=0)
    """Dollars per million completion tokens."""


def load_prices(text: str | None = None) -> dict[str, ModelPrice]:
    """Read a price table: ``{"<model>": {"input": <usd per 1M>, "output": <usd per 1M>}, ...}``.

    Args:
        text: The JSON; by default the environment variable :data:`PRICES_ENV` (no table when it is unset).

    Returns:
        The prices by model name.

    Raises:
        ConfigurationError: When the JSON is not such a table.
    """
    raw = os.environ.get(PRICES_ENV) if text is None else text
    if not raw or not raw.strip():
        return {}
    try:
        decoded: Any = json.loads(raw)
        if not isinstance(decoded, dict):
            raise ValueError("not a JSON object")
        return {str(name): ModelPrice.model_validate(price) for name, price in decoded.items()}
    except (ValueError, ValidationError) as error:
        raise ConfigurationError(
            f"the price table in {PRICES_ENV} is not valid ({error}); write it as JSON in US dollars per million "
            'tokens, e.g. {"gpt-4.1-mini": {"input": 0.4, "output": 1.6}}'
        ) from error


def price_for(model: str | None, prices: Mapping[str, ModelPrice]) -> ModelPrice | None:
    """The price of ``model``: its own entry, else the longest entry it extends with ``-`` (a dated version such
    as ``gpt-4.1-mini-2025-04-14`` takes the price of ``gpt-4.1-mini``); ``None`` when there is none."""
    if model is None:
        return None
    if model in prices:
        return prices[model]
    bases = [name for name in prices if model.startswith(name + "-")]
    return prices[max(bases, key=len)] if bases else None


def _cost(entry: ModelTokens | TurnUsage, prices: Mapping[str, ModelPrice]) -> float | None:
    price = price_for(entry.model, prices)
    if price is None:
        return None
    # Rounded to a millionth of a cent: the float noise of the division is not a cost.
    return round((entry.input_tokens * price.input + entry.output_tokens * price.output) / 1_000_000, 8)


def usage_json(usage: SessionUsage, prices: Mapping[str, ModelPrice] | None = None) -> dict[str, Any]:
    """The ``usage`` field of a session's ``history`` answer.

    Args:
        usage: The stored usage.
        prices: A price table; entries of a priced model get ``cost_usd``, and ``total`` gets it when every
            model with tokens has a price.

    Returns:
        The record's JSON plus ``total`` (requests and tokens of every turn).
    """
    table = prices or {}
    answer = usage.model_dump(mode="json")
    answer["total"] = usage.total.model_dump(mode="json", exclude={"model"})
    if not table:
        return answer
    for entry, stored in zip(answer["turns"], usage.turns, strict=True):
        _put_cost(entry, _cost(stored, table))
    costs = [_cost(entry, table) for entry in usage.by_model]
    for entry, cost in zip(answer["by_model"], costs, strict=True):
        _put_cost(entry, cost)
    used = [
        cost for cost, entry in zip(costs, usage.by_model, strict=True) if entry.input_tokens or entry.output_tokens
    ]
    if used and all(cost is not None for cost in used):
        answer["total"]["cost_usd"] = round(sum(cost for cost in used if cost is not None), 8)
    return answer


def _put_cost(entry: dict[str, Any], cost: float | None) -> None:
    if cost is not None:
        entry["cost_usd"] = cost
