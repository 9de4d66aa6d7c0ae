"""Deterministic ordering for the durable tool calls of one model response. Private module.

The Agents SDK starts the tool calls of one model response as concurrent asyncio tasks. A durable call
must appear in the journal at the same position on every replay, so the calls of a batch are *issued*
in the order the model listed them (tool ``i`` issues its durable call once tools ``0..i-1`` have issued
theirs; the calls then run concurrently), and their changes to the run context are *applied* in that
order too. Both waits are short: issuing is immediate and applying is an attribute copy.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from typing import Any

import restate
from restate.context import RestateDurableFuture

from resilient_agents.errors import TerminalAgentError


class _Turnstile:
    """Lets each id pass once every id before it (in the given order) has passed or been skipped."""

    def __init__(self, order: list[str]) -> None:
        self._order = order
        self._position = {call_id: index for index, call_id in enumerate(order)}
        self._passed = [False] * len(order)
        self._next = 0
        self._changed = asyncio.Condition()

    async def wait(self, call_id: str) -> None:
        index = self._position[call_id]
        async with self._changed:
            await self._changed.wait_for(lambda: self._next >= index)

    async def all_passed(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self._next >= len(self._order))

    async def passed(self, call_id: str) -> None:
        index = self._position[call_id]
        async with self._changed:
            self._passed[index] = True
            while self._next < len(self._order) and self._passed[self._next]:
                self._next += 1
            self._changed.notify_all()


def snapshot_context(context: Any) -> Any:
    """A deep copy of the run context, as the parallel calls of a batch see it.

    Raises:
        TerminalAgentError: When it cannot be copied; retrying would fail the same way on every replay.
    """
    try:
        return copy.deepcopy(context)
    except Exception as error:
        raise TerminalAgentError(
            f"the run context ({type(context).__name__}) cannot be copied for tools that run as their own "
            f"invocations ({error}); keep only data in it (a pydantic model or a dataclass), and pass clients "
            "and locks another way"
        ) from error


@dataclasses.dataclass
class ToolBatch:
    """The durable tool calls of one model response, in the model's order."""

    order: list[str]
    """Call ids of the durable tool calls, in the order the model listed them."""
    context_snapshot: Any
    """A deep copy of the run context taken when the response arrived, what every call of the batch sees;
    ``None`` when no call of the batch runs as its own invocation with the context."""
    issue: _Turnstile = dataclasses.field(init=False)
    apply: _Turnstile = dataclasses.field(init=False)
    futures: list[RestateDurableFuture[Any]] = dataclasses.field(init=False, default_factory=list)
    """The issued durable calls, in issue order."""
    _collector: asyncio.Future[Any] | None = dataclasses.field(init=False, default=None)

    def __post_init__(self) -> None:
        self.issue = _Turnstile(self.order)
        self.apply = _Turnstile(self.order)

    async def all_completed(self) -> None:
        """Wait until every call of the batch has been issued and has completed.

        The Restate SDK cannot have several tasks wait on different durable futures at once (a task can
        miss the wake-up meant for another), so one collector task waits for all of them with
        :func:`restate.gather`, and the tool tasks wait for the collector.
        """
        await self.issue.all_passed()
        if self._collector is None:
            self._collector = asyncio.ensure_future(restate.gather(*self.futures))
        await asyncio.shield(self._collector)

    @classmethod
    def create(cls, order: list[str], context: Any, *, snapshot: bool) -> ToolBatch:
        """Start a batch for ``order``; with ``snapshot``, take a deep copy of ``context`` for its calls.

        Raises:
            TerminalAgentError: When the context cannot be copied (e.g. it holds a client or a lock).
        """
        return cls(order=order, context_snapshot=snapshot_context(context) if snapshot else None)

    @property
    def parallel(self) -> bool:
        """Whether the batch has more than one durable call (and so runs them as separate invocations)."""
        return len(self.order) > 1

    def __contains__(self, call_id: object) -> bool:
        return call_id in self.issue._position
