"""Sagas: compensations for multi-step handlers, run in reverse when a later step fails for good.

Public through :mod:`resilient_agents.loop`. A tool that needs several durable steps (a transfer, a loan
payout) is a Restate service handler; inside it, a :class:`Saga` records how to undo each step that succeeded.
When a later step fails terminally (or the invocation is cancelled), the compensations run in reverse order,
each as a durable action of its own, so a crash in the middle of undoing neither skips nor repeats one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeAlias

import restate

from resilient_agents.errors import TerminalAgentError

Compensation: TypeAlias = Callable[[], Awaitable[Any]]
"""Undoes one step: a function that starts ONE durable action (a call, a send, a ``ctx.run``) and returns it."""


class CompensatedError(TerminalAgentError):
    """A saga failed terminally and its compensations ran. The message says what failed and what was undone."""


@dataclasses.dataclass(frozen=True)
class _Entry:
    name: str
    compensation: Compensation


class Saga:
    """Collects compensations while a multi-step handler runs; on a terminal failure runs them in reverse.

    Register a compensation right after its step succeeded when the step is atomic (a failed step left
    nothing behind, like a Virtual Object handler that checks before it writes); register it before the step
    when the step can fail halfway, and make the compensation tolerate a step that never happened.

    Example:
        >>> async def transfer(ctx: restate.Context, order: Order) -> str:  # doctest: +SKIP
        ...     async with Saga() as saga:
        ...         await ctx.object_call(withdraw, key=order.source, arg=order.amount)
        ...         saga.add("refund the source", lambda: ctx.object_call(deposit, key=order.source, arg=order.amount))
        ...         await ctx.object_call(deposit, key=order.target, arg=order.amount)
        ...         saga.add("reverse the credit", lambda: ctx.object_call(withdraw, key=order.target, arg=...))
        ...         await ctx.run_typed("clearing", clear, order=order)  # A TerminalError here undoes both.
        ...     return "done"

    Leaving the ``async with`` block with a :class:`restate.TerminalError` runs the compensations and raises a
    :class:`CompensatedError` (terminal) that names the failure and each undone step; any other exception (a
    transient one that Restate retries) leaves them registered, because the retry replays the journal.
    """

    def __init__(self) -> None:
        self._entries: list[_Entry] = []

    def add(self, name: str, compensation: Compensation) -> None:
        """Register how to undo a step.

        Args:
            name: What the compensation does, in words (it appears in the error message), e.g. ``"refund alice"``.
            compensation: Starts ONE durable action that undoes the step.
        """
        self._entries.append(_Entry(name, compensation))

    @property
    def pending(self) -> list[str]:
        """The names of the registered compensations, in registration order."""
        return [entry.name for entry in self._entries]

    async def compensate(self) -> tuple[list[str], list[str]]:
        """Run every registered compensation once, newest first, and forget them.

        A compensation that fails terminally is reported and the others still run (Restate retries transient
        failures inside each durable action).

        Returns:
            The names of the compensations that succeeded, and messages of those that failed.
        """
        done: list[str] = []
        failed: list[str] = []
        entries, self._entries = self._entries, []
        for entry in reversed(entries):
            try:
                await entry.compensation()
            except restate.TerminalError as error:
                failed.append(f"{entry.name} ({error.message})")
            else:
                done.append(entry.name)
        return done, failed

    async def __aenter__(self) -> Saga:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not isinstance(exc, restate.TerminalError) or not self._entries:
            return
        done, failed = await self.compensate()
        message = f"{exc.message}. Undone, newest first: {', '.join(done) or 'nothing'}"
        if failed:
            message += f". COULD NOT UNDO: {'; '.join(failed)}"
        raise CompensatedError(message, status_code=exc.status_code) from exc
