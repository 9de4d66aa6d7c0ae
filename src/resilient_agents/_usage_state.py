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
from resilient_agents.usage import USAGE_STATE_KEY, ModelPrice, SessionUsage, UsageTally, load_prices, usage_json

_USAGE_SERDE: Serde[SessionUsage] = TypeAdapterSerde(SessionUsage)


async def read_usage(ctx: restate.ObjectContext | restate.ObjectSharedContext) -> SessionUsage:
    """The session's stored usage (an empty record when there is none).

    In an exclusive handler the read is journaled, so a replay reads the same record and the turn's write
    does not count anything twice.
    """
    stored = await ctx.get(USAGE_STATE_KEY, serde=_USAGE_SERDE)
    return stored if stored is not None else SessionUsage()


def write_turn_usage(ctx: restate.ObjectContext, before: SessionUsage, tally: UsageTally) -> None:
    """Store ``before`` plus one turn counted by ``tally`` (one state write, with the turn's last write)."""
    ctx.set(USAGE_STATE_KEY, before.add_turn(tally), serde=_USAGE_SERDE)


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
    return usage_json(await read_usage(ctx), table)
