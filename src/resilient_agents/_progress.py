"""Many tasks of one handler awaiting durable futures at once: no lost wake-ups, and a replay that matches.

Private module.

**What goes wrong in restate-sdk 1.3.0.** Every task that awaits an incomplete durable future runs its own
progress loop (``ServerInvocationContext.create_poll_or_cancel_coroutine``): it asks the state machine
about *its* future and, when told to wait, reads the next message from the engine. With several such
tasks each message is read by one of them; when task A reads the completion that task B waits for, A
hands it to the state machine, sees its own future still pending and reads again, while B stays parked
until some later message arrives, often the engine closing the stream at its inactivity timeout (about a
minute). Worse, the order in which concurrent tasks issue their next durable actions then depends on
timing, while a replay makes completions visible strictly in journal order: a turn that ran fine fails
on replay with ``(570) Found a mismatch between the code paths taken during the previous execution``.

**What we do instead: one driver per invocation, and one event at a time.** Tasks that wait for a durable
future park here and a single driver task does all the talking to the state machine:

* it reads the engine's input and starts journaled steps (``run``) the state machine asks for;
* a finished step does not record its result by itself: it asks the driver for a turn, and the driver
  records one result at a time;
* after each event (a result recorded, a message read) the driver wakes the parked tasks whose futures
  are complete, one at a time in the order they started waiting, and lets the woken task run until the
  invocation is quiet again (no task issued a durable action for a number of event-loop rounds) before
  it looks at the next event.

So the tasks issue their durable actions in an order fixed by the order of events in the journal, the
same live and on replay, where the state machine hands the journal's events back in that order. The
journal a handler writes is unchanged for a single task.

It is installed by everything in this package that builds or runs durable handlers; a user's own
``restate.app`` without them calls :func:`resilient_agents.enable_concurrent_durable_awaits` once.
The rule for handler code: between durable actions, do not wait for anything that is not durable (wall
clock, network, queues fed by such things); wrap such work in a journaled step.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import restate.server_context as _server_context
from restate.exceptions import SdkInternalException, SuspendedException, TerminalError
from restate.server_context import DisconnectedException, ServerInvocationContext
from restate.vm import (
    AllCompletedUnresolvedFuture,
    DoProgressAnyCompleted,
    DoProgressCancelSignalReceived,
    DoProgressExecuteRun,
    DoProgressWaitExternalProgress,
    FirstCompletedUnresolvedFuture,
    SingleUnresolvedFuture,
    Suspended,
    VMWrapper,
)

logger = logging.getLogger(__name__)

QUIET_ROUNDS = 16
"""Event-loop rounds without a durable action after which a woken task counts as parked again.

A woken task resumes through a few hops (the future's task, the awaiting task, tasks it starts); each hop
is one round. Sixteen rounds cover the Agents SDK's hops between a model response and its tool calls
with room to spare, and cost microseconds."""

_ATTRIBUTE = "_resilient_agents_progress"
_installed = False


@dataclasses.dataclass(eq=False)
class _Waiter:
    future: Any
    """The state machine's unresolved future (single, first-of or all-of handles)."""
    woken: asyncio.Future[None]


@dataclasses.dataclass(eq=False)
class _Driver:
    """The coordination state of one invocation attempt."""

    context: ServerInvocationContext
    waiters: list[_Waiter] = dataclasses.field(default_factory=list)
    turns: deque[asyncio.Future[None]] = dataclasses.field(default_factory=deque)
    """Finished steps waiting to record their result, in the order they finished."""
    activity: int = 0
    """Bumped by every durable action and every new waiter; the driver watches it to see quiet."""
    wakeup: asyncio.Future[None] | None = None
    """Set while the driver waits for an event: done by a message from the engine or by a task's kick."""
    output: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    """Held while output is taken from the state machine and sent, so that frames keep their order."""
    task: asyncio.Task[None] | None = None
    reader: asyncio.Task[Any] | None = None

    # -- called by the handler's tasks ----------------------------------------------------------------------

    async def wait_for(self, future: Any) -> None:
        waiter = _Waiter(future, asyncio.get_running_loop().create_future())
        self.waiters.append(waiter)
        self.touch()
        self._ensure_running()
        try:
            await waiter.woken
        finally:
            if waiter in self.waiters:  # Cancelled while parked.
                self.waiters.remove(waiter)

    async def turn_to_record(self) -> None:
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.turns.append(turn)
        self._kick()  # Not activity: steps finishing must not keep the driver from seeing quiet.
        self._ensure_running()
        try:
            await turn
        except BaseException:
            if turn in self.turns:
                self.turns.remove(turn)
            raise

    def touch(self) -> None:
        self.activity += 1
        self._kick()

    def _kick(self) -> None:
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    # -- the driver -----------------------------------------------------------------------------------------

    def _ensure_running(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._drive())
            self.context.tasks.add(self.task)

    async def _drive(self) -> None:
        try:
            while self.waiters or self.turns:
                await self._until_quiet()
                await _take_and_send_output(self.context)
                if self._wake_one():
                    continue
                if self.turns:
                    self.turns.popleft().set_result(None)  # The step records its result now.
                    await asyncio.sleep(0)  # Let it record before we look again.
                    continue
                await self._progress()
        except BaseException as error:  # Whatever ends the attempt reaches every parked task, which raise it.
            self._fail_all(error)
            if isinstance(error, asyncio.CancelledError):
                raise
        finally:
            if self.reader is not None and not self.reader.done():
                self.reader.cancel()  # asyncio.Queue.get is cancellation-safe: no message is lost.
            self.reader = None

    def _until_quiet(self) -> asyncio.Future[None]:
        """A future done after :data:`QUIET_ROUNDS` event-loop rounds in a row without a durable action.

        Counted by a callback that reschedules itself once per round: a plain callback costs a fraction of
        resuming the driver's coroutine every round (this runs after every event of every invocation).
        """
        loop = asyncio.get_running_loop()
        quiet = loop.create_future()
        count, seen = 0, self.activity

        def round_passed() -> None:
            nonlocal count, seen
            if quiet.done():  # The driver was cancelled.
                return
            if self.activity == seen:
                count += 1
            else:
                count, seen = 0, self.activity
            if count >= QUIET_ROUNDS:
                quiet.set_result(None)
            else:
                loop.call_soon(round_passed)

        loop.call_soon(round_passed)
        return quiet

    def _wake_one(self) -> bool:
        vm = self.context.vm
        for waiter in self.waiters:
            if _is_complete(vm, waiter.future):
                self.waiters.remove(waiter)
                if not waiter.woken.done():
                    waiter.woken.set_result(None)
                return True
        return False

    async def _progress(self) -> None:
        if not self.waiters:
            await self._wait_for_event()
            return
        union = FirstCompletedUnresolvedFuture([waiter.future for waiter in self.waiters])
        response = self.context.vm.do_progress(union)
        if isinstance(response, BaseException):
            logger.exception("Exception in do_progress", exc_info=response)
            raise SdkInternalException() from response
        if isinstance(response, Suspended):
            raise SuspendedException()
        if isinstance(response, DoProgressCancelSignalReceived):
            self.waiters.pop(0).woken.set_exception(TerminalError("cancelled", 409))
            return
        if isinstance(response, DoProgressExecuteRun):
            _start_step(self.context, response.handle)
            return
        if isinstance(response, DoProgressWaitExternalProgress):
            await self._wait_for_event()
            return
        if not isinstance(response, DoProgressAnyCompleted):
            raise SdkInternalException() from RuntimeError(f"unexpected progress answer {response!r}")
        if not any(_is_complete(self.context.vm, waiter.future) for waiter in self.waiters):
            # The state machine saw a completion our check does not (should not happen): hand it to the
            # first waiter, whose own check in the SDK then takes the notification.
            self.waiters.pop(0).woken.set_result(None)

    async def _wait_for_event(self) -> None:
        """Wait until the engine sends something or a task asks for a turn or starts waiting."""
        loop = asyncio.get_running_loop()
        if self.reader is None:
            self.reader = loop.create_task(self.context.receive())
        reader = self.reader
        if not reader.done():
            wakeup = self.wakeup = loop.create_future()

            def message_read(_: object) -> None:
                if not wakeup.done():
                    wakeup.set_result(None)

            reader.add_done_callback(message_read)
            try:
                await wakeup
            finally:
                self.wakeup = None
                reader.remove_done_callback(message_read)
            if not reader.done():
                return
        chunk = self.reader.result()
        self.reader = None
        if chunk.get("type") == "restate.run_completed":
            return
        if chunk.get("type") == "http.disconnect":
            raise DisconnectedException()
        body: bytes | None = chunk.get("body", None)
        if body:  # Empty frames carry nothing (see the SDK's issue #175).
            self.context.vm.notify_input(body)
        if not chunk.get("more_body", False):
            self.context.vm.notify_input_closed()  # type: ignore[no-untyped-call]  # The SDK leaves it untyped.

    def _fail_all(self, error: BaseException) -> None:
        pending = [waiter.woken for waiter in self.waiters] + list(self.turns)
        self.waiters.clear()
        self.turns.clear()
        for future in pending:
            if future.done():
                continue
            if isinstance(error, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(error)


def _is_complete(vm: VMWrapper, future: Any) -> bool:
    if isinstance(future, SingleUnresolvedFuture):
        return vm.is_completed(future.handle)
    if isinstance(future, AllCompletedUnresolvedFuture):
        return all(_is_complete(vm, child) for child in future.children)
    if isinstance(future, FirstCompletedUnresolvedFuture):
        return any(_is_complete(vm, child) for child in future.children)
    return False


def _start_step(context: ServerInvocationContext, handle: int) -> None:
    action = context.run_coros_to_execute.pop(handle)

    async def run_and_report() -> None:
        try:
            await action()
        finally:
            await context.receive.enqueue_restate_event({"type": "restate.run_completed", "data": None})

    context.tasks.add(asyncio.get_running_loop().create_task(run_and_report()))


def _driver(context: ServerInvocationContext) -> _Driver:
    driver: _Driver | None = getattr(context, _ATTRIBUTE, None)
    if driver is None:
        driver = _Driver(context)
        setattr(context, _ATTRIBUTE, driver)
        setattr(context.vm, _ATTRIBUTE, driver)
    return driver


# -- the SDK methods we replace ------------------------------------------------------------------------------


async def _poll_or_cancel(self: ServerInvocationContext, unresolved_future: Any) -> None:
    await _take_and_send_output(self)
    await _driver(self).wait_for(unresolved_future)


async def _take_and_send_output(self: ServerInvocationContext) -> None:
    async with _driver(self).output:
        output = self.vm.take_output()
        if output:
            await self.send({"type": "http.response.body", "body": bytes(output), "more_body": True})


_original_run_coroutine: Callable[..., Awaitable[None]] | None = None


async def _run_coroutine(self: ServerInvocationContext, handle: int, action: Any, *args: Any) -> None:
    """Run a journaled step's body now, but record its result only when the driver gives it a turn."""
    driver = _driver(self)

    async def body() -> Any:
        try:
            if inspect.iscoroutinefunction(action):
                result = await action()
            else:
                call = functools.partial(contextvars.copy_context().run, action)
                result = await asyncio.get_running_loop().run_in_executor(None, call)
        except Exception:
            await driver.turn_to_record()
            raise
        await driver.turn_to_record()
        return result

    assert _original_run_coroutine is not None
    await _original_run_coroutine(self, handle, body, *args)


def _note_activity(vm: VMWrapper) -> None:
    """Called by the SDK after every durable action (``update_restate_context_is_replaying``)."""
    _server_context.restate_context_is_replaying.set(vm.is_replaying())
    driver: _Driver | None = getattr(vm, _ATTRIBUTE, None)
    if driver is not None:
        driver.touch()


def install() -> None:
    """Replace the SDK's per-task progress loop with the driver (idempotent)."""
    global _installed, _original_run_coroutine
    if _installed:
        return
    _original_run_coroutine = ServerInvocationContext.create_run_coroutine
    context_class: Any = ServerInvocationContext
    context_class.create_poll_or_cancel_coroutine = _poll_or_cancel
    context_class.take_and_send_output = _take_and_send_output
    context_class.create_run_coroutine = _run_coroutine
    module: Any = _server_context
    module.update_restate_context_is_replaying = _note_activity
    _installed = True
