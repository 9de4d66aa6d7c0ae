"""Span helpers: a handle that is a no-op when tracing is off, execution spans and spans that outlive an attempt.

Private module.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ._setup import FORCED_SPAN_ID, MAX_CONTENT_CHARS, Parent, content_enabled, get_tracer
from ._where import derived_span_id, is_replaying, parent, resumed

if TYPE_CHECKING:
    from opentelemetry.trace import Span


_ENCLOSING: contextvars.ContextVar[tuple[Span, ...]] = contextvars.ContextVar("resilient_agents_enclosing", default=())
"""The spans that outlive an attempt (turn, resumable tool) around the running code, outermost first."""


class SpanHandle:
    """A span being recorded; its methods ignore the call when tracing is off (``span`` is ``None``)."""

    def __init__(self, span: Span | None) -> None:
        self.span = span

    def set(self, name: str, value: Any) -> None:
        """Set one attribute (``None`` values are skipped)."""
        if self.span is not None and value is not None:
            self.span.set_attribute(name, value)

    def set_content(self, name: str, value: Any) -> None:
        """Set a prompt or output attribute, only with ``RESILIENT_AGENTS_TRACE_CONTENT=1`` (truncated)."""
        if self.span is None or value is None or not content_enabled():
            return
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        self.span.set_attribute(name, text[:MAX_CONTENT_CHARS])

    def usage(self, input_tokens: int | None, output_tokens: int | None) -> None:
        """Record token counts (GenAI and OpenInference names)."""
        self.set("gen_ai.usage.input_tokens", input_tokens)
        self.set("gen_ai.usage.output_tokens", output_tokens)
        self.set("llm.token_count.prompt", input_tokens)
        self.set("llm.token_count.completion", output_tokens)
        if input_tokens is not None and output_tokens is not None:
            self.set("llm.token_count.total", input_tokens + output_tokens)


NO_SPAN = SpanHandle(None)


def error_status(span: Span, error: BaseException) -> None:
    """Mark ``span`` failed with ``error``."""
    from opentelemetry.trace import Status, StatusCode

    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:500]))
    span.set_attribute("error.type", type(error).__name__)


@contextlib.contextmanager
def execution_span(name: str, parent_ctx: Parent | None, attributes: dict[str, Any]) -> Iterator[SpanHandle]:
    """A span for one execution (a step's action): always ended, an exception marks it failed."""
    tracer = get_tracer()
    if tracer is None:
        yield NO_SPAN
        return
    span = tracer.start_span(name, context=parent_ctx, attributes=clean(attributes))
    handle = SpanHandle(span)
    try:
        yield handle
    except BaseException as error:
        error_status(span, error)
        handle.set("resilient_agents.outcome", "failed")
        span.end()
        raise
    span.end()


@contextlib.contextmanager
def logical_span(
    name: str,
    ctx: Any,
    key: str,
    attributes: dict[str, Any],
    *,
    start_ns: int | None = None,
    parent_ctx: Parent | None = None,
) -> Iterator[SpanHandle]:
    """A span that may outlive an engine attempt (a turn, an approval wait), current while the block runs.

    It ends when the block finishes live (not while the engine replays what an earlier attempt finished),
    or fails with a ``TerminalError``; an attempt that ends otherwise (suspended, retried, cancelled task)
    leaves it open, for the attempt that finishes it. Its span id is derived from the invocation id and
    ``key``, the same in every attempt.
    """
    tracer = get_tracer()
    if tracer is None:
        yield NO_SPAN
        return
    import restate
    from opentelemetry import context, trace

    parent_of_span = parent_ctx if parent_ctx is not None else parent(ctx)
    attributes = resumed(ctx, attributes, start_ns)
    token = FORCED_SPAN_ID.set(derived_span_id(ctx, key))
    try:
        span = tracer.start_span(name, context=parent_of_span, attributes=clean(attributes), start_time=start_ns)
    finally:
        FORCED_SPAN_ID.reset(token)
    handle = SpanHandle(span)
    attached = context.attach(trace.set_span_in_context(span, parent_of_span))
    enclosing = _ENCLOSING.set((*_ENCLOSING.get(), span))
    try:
        yield handle
    except restate.TerminalError as error:
        error_status(span, error)
        handle.set("resilient_agents.outcome", "cancelled" if error.status_code == 409 else "failed")
        span.end()
        raise
    except BaseException:
        raise  # This attempt ends without finishing the span: the attempt that finishes the work ends it.
    else:
        if not is_replaying(ctx):  # Finished in an earlier attempt, which ended the span: do not repeat it.
            span.end()
    finally:
        _ENCLOSING.reset(enclosing)
        context.detach(attached)


class OpenSpan:
    """A started span that outlives an engine attempt, ended explicitly (see :func:`start_call_tool`)."""

    def __init__(self, span: Span) -> None:
        self.handle = SpanHandle(span)

    @contextlib.contextmanager
    def current(self) -> Iterator[None]:
        """Make the span the parent of the spans started in this task meanwhile (an approval wait in a tool)."""
        span = self.handle.span
        if span is None:
            yield
            return
        from opentelemetry import context, trace

        token = context.attach(trace.set_span_in_context(span))
        enclosing = _ENCLOSING.set((*_ENCLOSING.get(), span))
        try:
            yield
        finally:
            _ENCLOSING.reset(enclosing)
            context.detach(token)

    def finish(self, ctx: Any, error: BaseException | None = None) -> None:
        """End the span if this attempt saw the work finish live; a replayed finish leaves it to the earlier one."""
        span = self.handle.span
        if span is None or is_replaying(ctx):
            return
        if error is not None:
            error_status(span, error)
        self.handle.set("resilient_agents.outcome", "failed" if error is not None else "completed")
        span.end()


@contextlib.contextmanager
def with_content(inner: contextlib.AbstractContextManager[SpanHandle], name: str, value: Any) -> Iterator[SpanHandle]:
    """Enter ``inner`` and set one content attribute (only with the content setting) on its span."""
    with inner as span:
        span.set_content(name, value)
        yield span


def extend_current_start(start_ns: int) -> None:
    """Move the start of the enclosing spans (tool, turn) back to ``start_ns`` when a child began earlier.

    A span that outlives an attempt is recreated by the attempt that ends it; a child whose start is
    journaled (an approval requested before a restart) would otherwise start before its parents.
    """
    for span in _ENCLOSING.get():
        started = getattr(span, "_start_time", None)
        if isinstance(started, int) and started > start_ns:
            span._start_time = start_ns  # type: ignore[attr-defined]  # The SDK's Span keeps it here; no setter.


def clean(attributes: dict[str, Any]) -> dict[str, Any]:
    """``attributes`` without the ``None`` values (OpenTelemetry refuses them)."""
    return {name: value for name, value in attributes.items() if value is not None}
