"""A responder for tests: answers from a queue of replies, faults and callables, in order."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TypeAlias

from resilient_agents.models.reply import Fault, Reply
from resilient_agents.models.request import ParsedRequest, Responder

ScriptItem: TypeAlias = Reply | Fault | Callable[[ParsedRequest], Reply | Fault]
"""One queued answer: a reply, a fault, or a function computing either from the request."""


class ScriptedModel(Responder):
    """Answers each request with the next queued item (first in, first out). Thread-safe.

    When the queue is empty it answers HTTP 500 with a message saying the script ran out.

    Example:
        >>> model = ScriptedModel(Reply.call("get_weather", city="Detroit"), Reply.say("Sunny."))

    Args:
        *items: The initial queue.
    """

    def __init__(self, *items: ScriptItem) -> None:
        self._lock = threading.Lock()
        self._queue: deque[ScriptItem] = deque(items)
        self._received: list[ParsedRequest] = []

    def push(self, *items: ScriptItem) -> ScriptedModel:
        """Queue answers after those already queued.

        Args:
            *items: Replies, faults or callables ``(ParsedRequest) -> Reply | Fault``.

        Returns:
            This model, for chaining.
        """
        with self._lock:
            self._queue.extend(items)
        return self

    def fail_next(self, fault: Fault, times: int = 1) -> ScriptedModel:
        """Make the very next request(s) fail, ahead of anything already queued.

        Args:
            fault: The fault to produce.
            times: How many consecutive requests get the fault.

        Returns:
            This model, for chaining.
        """
        with self._lock:
            self._queue.extendleft([fault] * times)
        return self

    @property
    def pending(self) -> int:
        """How many queued answers are left."""
        with self._lock:
            return len(self._queue)

    @property
    def received(self) -> list[ParsedRequest]:
        """A snapshot of the parsed requests answered so far, oldest first."""
        with self._lock:
            return list(self._received)

    def respond(self, request: ParsedRequest) -> Reply | Fault:
        """Answer with the next queued item (a callable is called with the request).

        Args:
            request: The parsed request.

        Returns:
            The queued reply or fault, or a server-error fault when the queue is empty.
        """
        with self._lock:
            self._received.append(request)
            number = len(self._received)
            item = self._queue.popleft() if self._queue else None
        if item is None:
            message = (
                f"ScriptedModel script ran out: request #{number} ({request.api} API, model {request.model!r}) "
                "arrived but no reply is queued. Queue more answers with ScriptedModel.push(...)."
            )
            return Fault.server_error(500, message=message)
        if isinstance(item, Reply | Fault):
            return item
        return item(request)
