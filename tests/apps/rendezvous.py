"""A meeting point for tool calls that must be running at the same moment (tests of parallel tool calls).

Tests assert an observable fact instead of a duration: "all five tools were inside their body at once", which
tools run one after another can never do, however fast or slow the machine is. The app serving the tools is
one process with one event loop, so an in-memory count per group is the meeting point.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

GIVE_UP_SECONDS = 60.0
"""A caller stops waiting after this long, so a serial runner fails the test with a message, not a hang."""

_arrived: Counter[str] = Counter()
_everyone_here: dict[str, asyncio.Event] = {}


async def meet(group: str, parties: int) -> int:
    """Wait until ``parties`` callers of ``group`` are waiting here together, then let them all go.

    Args:
        group: Names one meeting (use a fresh one per test turn).
        parties: How many callers the meeting waits for.

    Returns:
        How many callers of ``group`` had arrived when this one left: ``parties`` when they met, fewer when
        this caller gave up waiting.
    """
    _arrived[group] += 1
    everyone_here = _everyone_here.setdefault(group, asyncio.Event())
    if _arrived[group] >= parties:
        everyone_here.set()
    # Giving up is the failure the test reports (with the count), not an error of the tool.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(everyone_here.wait(), GIVE_UP_SECONDS)
    return _arrived[group]
