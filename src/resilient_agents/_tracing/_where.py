"""Where spans belong: the engine's trace context, the replay state, ids that every attempt derives alike.

Private module.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ._setup import ATTEMPTS, Parent, get_tracer

if TYPE_CHECKING:
    from opentelemetry.context import Context as OtelContext


def restate_context(ctx: Any = None) -> Any:
    """``ctx``, else the Restate context of the running handler (``None`` outside one)."""
    if ctx is not None:
        return ctx
    from restate.server_context import current_context

    try:
        return current_context()
    except LookupError:
        return None


def _engine_parent(ctx: Any) -> OtelContext | None:
    """The context of the engine's ``invocation-attempt`` span, from the attempt's ``traceparent`` header."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    try:
        headers = ctx.request().attempt_headers
    except Exception:
        return None
    if "traceparent" not in headers:
        return None
    return TraceContextTextMapPropagator().extract({"traceparent": headers["traceparent"]})


def parent(ctx: Any = None) -> Parent | None:
    """Capture, in the calling task, where child spans belong: the current span, else the engine's attempt.

    Journaled steps run their action in another task, so a step's span takes this captured parent
    explicitly. ``None`` when tracing is off.
    """
    if get_tracer() is None:
        return None
    from opentelemetry import context, trace

    current = context.get_current()
    if trace.get_current_span(current).get_span_context().is_valid:
        return current
    restate_ctx = restate_context(ctx)
    return _engine_parent(restate_ctx) if restate_ctx is not None else None


def is_replaying(ctx: Any = None) -> bool:
    """Whether the engine is replaying the journal at this point of the handler."""
    restate_ctx = restate_context(ctx)
    vm = getattr(restate_ctx, "vm", None)
    return bool(vm is not None and vm.is_replaying())


def derived_span_id(ctx: Any, what: str) -> int:
    """A span id from the invocation id and ``what``: the same in every attempt (0 outside a handler)."""
    try:
        invocation = restate_context(ctx).request().id
    except Exception:
        return 0
    digest = hashlib.blake2b(f"{invocation}/{what}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") or 1


def resumed(ctx: Any, attributes: dict[str, Any], start_ns: int | None) -> dict[str, Any]:
    """Mark a span that an attempt opens while replaying: the work began in an earlier attempt, and unless
    ``start_ns`` comes from the journal, the span's start is when this attempt resumed it."""
    if not is_replaying(ctx):
        return attributes
    return {**attributes, "resilient_agents.resumed": True, "resilient_agents.start_is_resume": start_ns is None}


def invocation_id(ctx: Any) -> str | None:
    """The invocation id of ``ctx``, or ``None``."""
    try:
        return str(ctx.request().id)
    except Exception:
        return None


def next_attempt(step: str) -> int:
    """Executions of ``step`` in this process, this one included (a retry inside the step counts up)."""
    key = (_invocation_key(), step)
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if len(ATTEMPTS) > 10_000:
        ATTEMPTS.clear()
    return ATTEMPTS[key]


def _invocation_key() -> str:
    return invocation_id(restate_context()) or ""
