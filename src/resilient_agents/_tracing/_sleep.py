"""Spans of durable sleeps (``ctx.sleep``): from the call to the wake-up, across suspensions. Private module.

restate-sdk has no hook for this, so while tracing is on, ``ServerInvocationContext.sleep`` is wrapped (once):
the future it returns is the SDK's own, given a subclass whose ``await`` ends the span. A sleep that is not
awaited by itself (the approval's timeout inside ``restate.select``) never ends its span, so none is exported;
the approval-wait span covers it.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

from ._setup import FORCED_SPAN_ID, get_tracer
from ._spans import OpenSpan, clean
from ._where import derived_span_id, parent, resumed

_MARK = "_resilient_agents_traced"


def install() -> None:
    """Wrap the SDK's ``sleep`` so that every durable sleep gets a span (idempotent)."""
    from restate.server_context import ServerDurableSleepFuture, ServerInvocationContext

    original = ServerInvocationContext.sleep
    if getattr(original, _MARK, False):
        return

    class TracedSleepFuture(ServerDurableSleepFuture):
        """The SDK's sleep future; awaiting it to the end ends its span (when the wake-up is live)."""

        _span: OpenSpan
        _ctx: Any

        def __await__(self) -> Generator[Any, Any, None]:
            future: Any = self.future
            yield from future.__await__()
            self._span.finish(self._ctx)

    def sleep(self: ServerInvocationContext, delta: timedelta, name: str | None = None) -> Any:
        future = original(self, delta, name)
        span = _start(self, delta, name)
        if span is not None and type(future) is ServerDurableSleepFuture:
            future.__class__ = TracedSleepFuture
            future._span = span  # type: ignore[attr-defined]  # Set on the subclass just assigned.
            future._ctx = self  # type: ignore[attr-defined]
        return future

    setattr(sleep, _MARK, True)
    ServerInvocationContext.sleep = sleep  # type: ignore[method-assign]


def _start(ctx: Any, delta: timedelta, name: str | None) -> OpenSpan | None:
    tracer = get_tracer()
    if tracer is None:
        return None
    data = getattr(ctx, "extension_data", None)
    count = 1
    if isinstance(data, dict):
        count = int(data.get("resilient_agents.sleeps", 0)) + 1
        data["resilient_agents.sleeps"] = count
    attributes: dict[str, Any] = {
        "openinference.span.kind": "CHAIN",
        "resilient_agents.sleep.seconds": delta.total_seconds(),
        "resilient_agents.sleep.name": name,
    }
    attributes = clean(resumed(ctx, attributes, None))
    token = FORCED_SPAN_ID.set(derived_span_id(ctx, f"sleep #{count}"))
    try:
        return OpenSpan(tracer.start_span(f"sleep {name or delta}", context=parent(ctx), attributes=attributes))
    finally:
        FORCED_SPAN_ID.reset(token)
