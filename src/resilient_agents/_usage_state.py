"""Reading and writing a session's :class:`~resilient_agents.usage.SessionUsage` in Virtual Object state.

Private module, shared by both session objects (Agents SDK path and native loop).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import restate
from restate.serde import Serde

from resilient_agents._durable import TypeAdapterSerde
from resilient_agents.errors import ConfigurationError
from resilient_agents.usage import (
    MAX_TURNS_KEPT,
    USAGE_STATE_KEY,
    ModelPrice,
    SessionUsage,
    TurnUsage,
    UsageTally,
    load_prices,
    usage_json,
)

_USAGE_SERDE: Serde[SessionUsage] = TypeAdapterSerde(SessionUsage)
_TURN_SERDE: Serde[list[TurnUsage]] = TypeAdapterSerde(list[TurnUsage])


def turn_key(number: int) -> str:
    """The state key of one turn's usage entries: ``usage:turn:<number>``."""
    return f"{USAGE_STATE_KEY}:turn:{number}"


async def read_usage(ctx: restate.ObjectContext | restate.ObjectSharedContext) -> SessionUsage:
    """The session's usage totals (an empty record when there is none), without the per-turn entries.

    Storage: the totals (``last_turn``, ``by_model``) under :data:`USAGE_STATE_KEY`, and each turn's entries under
    their own key (:func:`turn_key`), so a turn writes two small values however long the session is. In an
    exclusive handler the read is journaled, so a replay reads the same record and the turn's write does not
    count anything twice.
    """
    stored = await ctx.get(USAGE_STATE_KEY, serde=_USAGE_SERDE)
    return stored if stored is not None else SessionUsage()


def write_turn_usage(ctx: restate.ObjectContext, before: SessionUsage, tally: UsageTally) -> None:
    """Store one more turn counted by ``tally``: its entries under their own key, the new totals under
    :data:`USAGE_STATE_KEY` (two writes of constant size, with the turn's last write)."""
    after = before.add_turn(tally)
    by_turn: dict[int, list[TurnUsage]] = {}
    for entry in after.turns:  # This turn's entries, and (once) those an older record kept inside itself.
        by_turn.setdefault(entry.turn, []).append(entry)
    for number, entries in by_turn.items():
        ctx.set(turn_key(number), entries, serde=_TURN_SERDE)
    ctx.set(USAGE_STATE_KEY, after.model_copy(update={"turns": []}), serde=_USAGE_SERDE)


async def read_full_usage(ctx: restate.ObjectSharedContext) -> SessionUsage:
    """The totals plus the entries of the latest :data:`MAX_TURNS_KEPT` turns (one state read per turn)."""
    usage = await read_usage(ctx)
    kept = {t.turn for t in usage.turns}  # An older record kept its latest turns inside itself.
    turns = list(usage.turns)
    for number in range(max(1, usage.last_turn - MAX_TURNS_KEPT + 1), usage.last_turn + 1):
        if number not in kept:
            stored = await ctx.get(turn_key(number), serde=_TURN_SERDE)
            turns.extend(stored or [])
    first_kept = usage.last_turn - MAX_TURNS_KEPT + 1
    turns = sorted((t for t in turns if t.turn >= first_kept), key=lambda t: t.turn)
    return usage.model_copy(update={"turns": turns})


async def history_usage(
    ctx: restate.ObjectSharedContext, prices: Mapping[str, ModelPrice] | None = None
) -> dict[str, Any]:
    """The ``usage`` field of a ``history`` answer: the stored usage, priced by ``prices`` or else by the
    table in the serving process's environment (:data:`~resilient_agents.usage.PRICES_ENV`).

    A price table that does not parse leaves the cost out (the history must still answer); the CLI reports
    the table's error.
    """
    table: Mapping[str, ModelPrice]
    if prices is not None:
        table = prices
    else:
        try:
            table = load_prices()
        except ConfigurationError:
            table = {}
    return usage_json(await read_full_usage(ctx), table)
