"""OpenTelemetry spans of agent turns, model calls, tools, handoffs and approval waits. Private module.

**Turning it on.** Install the ``otel`` extra and set ``OTEL_EXPORTER_OTLP_ENDPOINT`` (and ``OTEL_SERVICE_NAME``)
in the service's environment: the first span then installs an OpenTelemetry SDK tracer provider with the
OTLP/HTTP exporter (``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` needs ``opentelemetry-exporter-otlp-proto-grpc``). An
application that set up its own global tracer provider gets our spans there instead. Otherwise nothing is
recorded, nothing is exported and OpenTelemetry is not even imported: every hook is one cached check.

**One trace.** The engine starts the trace (``ingress`` -> ``invocation-start`` -> ``invocation-attempt``) and
hands each attempt a W3C ``traceparent`` header; the turn span is a child of that attempt's span, and model,
tool, handoff and approval spans are children of the turn.

**Replays.** A replayed step emits no span: model and tool spans are opened *inside* the journaled step's
action, which runs only when the step really executes (once per execution of the step, numbered
``resilient_agents.attempt``). Handoffs, plain function tools and tools with durable actions get a span only
when the engine is not replaying. Spans that cover more than one engine attempt (the turn, an approval wait,
a native-loop tool that calls a handler) are ended only by the attempt that finishes them: an attempt that
suspends, fails or is killed leaves them open, and their span id is derived from the invocation id, so the
spans that steps of an earlier attempt exported name the same turn as their parent.

**Content.** Prompts, outputs, tool arguments and results are recorded only with
``RESILIENT_AGENTS_TRACE_CONTENT=1``; keys and headers never are.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import importlib
import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.context import Context as OtelContext
    from opentelemetry.trace import Span, Tracer

__all__ = [
    "CONTENT_ENV",
    "OpenSpan",
    "Parent",
    "SpanHandle",
    "approval_wait",
    "content_enabled",
    "enabled",
    "end_plain_tool",
    "handoff",
    "host_of",
    "is_replaying",
    "logical_span",
    "model_call",
    "note_tool_batch",
    "parent",
    "provider_of",
    "reset_for_tests",
    "start_call_tool",
    "start_plain_tool",
    "tool_batch",
    "tool_call",
    "turn",
]

logger = logging.getLogger(__name__)

CONTENT_ENV = "RESILIENT_AGENTS_TRACE_CONTENT"
"""Set to ``1`` to record prompts, outputs, tool arguments and results in span attributes."""

_MAX_CONTENT_CHARS = 16_000
_INSTRUMENTATION = "resilient_agents"
_TRUE = ("1", "true", "yes", "on")

_tracer: Tracer | None = None
_checked = False
_FORCED_SPAN_ID: contextvars.ContextVar[int] = contextvars.ContextVar("resilient_agents_span_id", default=0)
_attempts: dict[tuple[str, str], int] = {}


Parent = Any
"""An OpenTelemetry context to start child spans in (opaque here so that callers need no OpenTelemetry import)."""


def enabled() -> bool:
    """Whether spans are recorded (checked once per process, at the first span)."""
    return _get_tracer() is not None


def content_enabled() -> bool:
    """Whether prompts and outputs may be recorded (``RESILIENT_AGENTS_TRACE_CONTENT=1``)."""
    return os.environ.get(CONTENT_ENV, "").strip().lower() in _TRUE


def reset_for_tests() -> None:
    """Forget the cached tracer so that the next span checks the environment again."""
    global _tracer, _checked
    _tracer, _checked = None, False
    _attempts.clear()


def _get_tracer() -> Tracer | None:
    global _tracer, _checked
    if not _checked:
        _checked = True
        try:
            _tracer = _make_tracer()
        except Exception:  # Tracing must never break an agent: say why, run without it.
            logger.exception("OpenTelemetry tracing is off: the tracer provider could not be set up")
            _tracer = None
    return _tracer


def _make_tracer() -> Tracer | None:
    environ = os.environ
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return None
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return None
    if "opentelemetry.trace" in sys.modules:  # The application may have set up OpenTelemetry itself: use its.
        from opentelemetry import trace

        provider = trace.get_tracer_provider()
        if type(provider).__name__ not in ("ProxyTracerProvider", "NoOpTracerProvider"):
            return provider.get_tracer(_INSTRUMENTATION)
    if environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return _sdk_tracer(environ)
    return None  # Nobody set up OpenTelemetry in this process: no spans, no import cost.


def _sdk_tracer(environ: Mapping[str, str]) -> Tracer | None:
    from resilient_agents import _extras

    if _extras.missing("opentelemetry") or _missing_sdk():
        logger.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed; no spans are exported. "
            "Install it with: %s",
            _extras.install_hint("otel"),
        )
        return None
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class _IdGenerator(RandomIdGenerator):
        """Random ids, except a span id derived from the invocation for spans that outlive an attempt."""

        def generate_span_id(self) -> int:
            return _FORCED_SPAN_ID.get() or super().generate_span_id()

    resource = Resource.create({} if environ.get("OTEL_SERVICE_NAME") else {"service.name": "resilient-agents"})
    provider = TracerProvider(resource=resource, id_generator=_IdGenerator())
    # Spans ended before a crash reach the collector if exported soon: 1 s unless OTEL_BSP_SCHEDULE_DELAY says.
    delay = None if environ.get("OTEL_BSP_SCHEDULE_DELAY") else 1000
    provider.add_span_processor(BatchSpanProcessor(_exporter(environ), schedule_delay_millis=delay))
    if type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider":
        trace.set_tracer_provider(provider)  # The app's own instrumentation joins the same traces.
    return provider.get_tracer(_INSTRUMENTATION)


def _missing_sdk() -> bool:
    from importlib.util import find_spec

    try:
        return find_spec("opentelemetry.sdk") is None
    except ModuleNotFoundError:
        return True


def _exporter(environ: Mapping[str, str]) -> Any:
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
    ).strip()
    if protocol == "grpc":
        try:
            grpc = importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
        except ImportError as error:
            raise ImportError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs 'opentelemetry-exporter-otlp-proto-grpc' "
                "(pip install opentelemetry-exporter-otlp-proto-grpc), or use http/protobuf"
            ) from error
        return grpc.OTLPSpanExporter()
    if protocol not in ("", "http/protobuf"):
        logger.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%r is not supported here; exporting OTLP/HTTP protobuf", protocol)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


# -- parents ---------------------------------------------------------------------------------------------------


def _restate_context(ctx: Any = None) -> Any:
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
    if _get_tracer() is None:
        return None
    from opentelemetry import context, trace

    current = context.get_current()
    if trace.get_current_span(current).get_span_context().is_valid:
        return current
    restate_ctx = _restate_context(ctx)
    return _engine_parent(restate_ctx) if restate_ctx is not None else None


def is_replaying(ctx: Any = None) -> bool:
    """Whether the engine is replaying the journal at this point of the handler."""
    restate_ctx = _restate_context(ctx)
    vm = getattr(restate_ctx, "vm", None)
    return bool(vm is not None and vm.is_replaying())


def _derived_span_id(ctx: Any, what: str) -> int:
    try:
        invocation = ctx.request().id
    except Exception:
        return 0
    digest = hashlib.blake2b(f"{invocation}/{what}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") or 1


# -- spans -----------------------------------------------------------------------------------------------------


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
        self.span.set_attribute(name, text[:_MAX_CONTENT_CHARS])

    def usage(self, input_tokens: int | None, output_tokens: int | None) -> None:
        """Record token counts (GenAI and OpenInference names)."""
        self.set("gen_ai.usage.input_tokens", input_tokens)
        self.set("gen_ai.usage.output_tokens", output_tokens)
        self.set("llm.token_count.prompt", input_tokens)
        self.set("llm.token_count.completion", output_tokens)
        if input_tokens is not None and output_tokens is not None:
            self.set("llm.token_count.total", input_tokens + output_tokens)


_NO_SPAN = SpanHandle(None)


def _error_status(span: Span, error: BaseException) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:500]))
    span.set_attribute("error.type", type(error).__name__)


@contextlib.contextmanager
def _execution_span(name: str, parent_ctx: Parent | None, attributes: dict[str, Any]) -> Iterator[SpanHandle]:
    """A span for one execution (a step's action): always ended, an exception marks it failed."""
    tracer = _get_tracer()
    if tracer is None:
        yield _NO_SPAN
        return
    span = tracer.start_span(name, context=parent_ctx, attributes=_clean(attributes))
    handle = SpanHandle(span)
    try:
        yield handle
    except BaseException as error:
        _error_status(span, error)
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
    tracer = _get_tracer()
    if tracer is None:
        yield _NO_SPAN
        return
    import restate
    from opentelemetry import context, trace

    parent_of_span = parent_ctx if parent_ctx is not None else parent(ctx)
    attributes = _resumed(ctx, attributes, start_ns)
    token = _FORCED_SPAN_ID.set(_derived_span_id(ctx, key))
    try:
        span = tracer.start_span(name, context=parent_of_span, attributes=_clean(attributes), start_time=start_ns)
    finally:
        _FORCED_SPAN_ID.reset(token)
    handle = SpanHandle(span)
    attached = context.attach(trace.set_span_in_context(span, parent_of_span))
    try:
        yield handle
    except restate.TerminalError as error:
        _error_status(span, error)
        handle.set("resilient_agents.outcome", "cancelled" if error.status_code == 409 else "failed")
        span.end()
        raise
    except BaseException:
        raise  # This attempt ends without finishing the span: the attempt that finishes the work ends it.
    else:
        if not is_replaying(ctx):  # Finished in an earlier attempt, which ended the span: do not repeat it.
            span.end()
    finally:
        context.detach(attached)


_IN_TURN: contextvars.ContextVar[bool] = contextvars.ContextVar("resilient_agents_in_turn", default=False)


@contextlib.contextmanager
def turn(ctx: Any, *, agent: str, session_key: str | None = None, path: str) -> Iterator[SpanHandle]:
    """The span of one agent turn (``invoke_agent <agent>``): parent of its model, tool and handoff spans.

    Inside a turn span (a nested run, a handler that opened one) it is a no-op.

    Args:
        ctx: The handler's Restate context.
        agent: The agent that starts the turn.
        session_key: The session (Virtual Object key); by default the key of ``ctx`` when it has one.
        path: ``openai-agents`` or ``loop``.
    """
    if _get_tracer() is None or _IN_TURN.get():
        yield _NO_SPAN
        return
    if session_key is None:
        session_key = _key_of(ctx)
    token = _IN_TURN.set(True)
    try:
        with _turn_span(ctx, agent, session_key, path) as span:
            yield span
            span.set("resilient_agents.outcome", "completed")
    finally:
        _IN_TURN.reset(token)


def _key_of(ctx: Any) -> str | None:
    try:
        key = ctx.key()
    except Exception:
        return None
    return str(key) if key else None


def _turn_span(
    ctx: Any, agent: str, session_key: str | None, path: str
) -> contextlib.AbstractContextManager[SpanHandle]:
    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": agent,
        "gen_ai.conversation.id": session_key,
        "session.id": session_key,
        "openinference.span.kind": "AGENT",
        "resilient_agents.path": path,
        "resilient_agents.invocation_id": _invocation_id(ctx),
    }
    return logical_span(f"invoke_agent {agent}", ctx, _turn_key(ctx), attributes)


def _turn_key(ctx: Any) -> str:
    """``turn``, then ``turn #2``...: runs gathered in one handler open their turn spans in the same order in
    every attempt, so each keeps its span id."""
    data = getattr(ctx, "extension_data", None)
    if not isinstance(data, dict):
        return "turn"
    count = int(data.get("resilient_agents.turns", 0)) + 1
    data["resilient_agents.turns"] = count
    return "turn" if count == 1 else f"turn #{count}"


def _resumed(ctx: Any, attributes: dict[str, Any], start_ns: int | None) -> dict[str, Any]:
    """Mark a span that an attempt opens while replaying: the work began in an earlier attempt, and unless
    ``start_ns`` comes from the journal, the span's start is when this attempt resumed it."""
    if not is_replaying(ctx):
        return attributes
    return {**attributes, "resilient_agents.resumed": True, "resilient_agents.start_is_resume": start_ns is None}


def _invocation_id(ctx: Any) -> str | None:
    try:
        return str(ctx.request().id)
    except Exception:
        return None


def model_call(
    parent_ctx: Parent | None, *, step: str, agent: str, model: str | None, host: str, provider: str = "openai"
) -> contextlib.AbstractContextManager[SpanHandle]:
    """The span of one execution of a model-call step (``chat <model>``); call it inside the step's action."""
    if _get_tracer() is None:
        return contextlib.nullcontext(_NO_SPAN)
    address, _, port = host.partition(":")
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.system": provider,
        "gen_ai.request.model": model,
        "gen_ai.agent.name": agent,
        "server.address": address or None,
        "server.port": int(port) if port.isdigit() else None,
        "openinference.span.kind": "LLM",
        "llm.model_name": model,
        "llm.provider": provider,
        "resilient_agents.step": step,
        "resilient_agents.attempt": _next_attempt(step),
    }
    return _execution_span(f"chat {model or agent}", parent_ctx, attributes)


def tool_call(
    parent_ctx: Parent | None, *, step: str, name: str, call_id: str | None, batch_size: int | None
) -> contextlib.AbstractContextManager[SpanHandle]:
    """The span of one execution of a tool (``execute_tool <name>``); call it where the tool's body runs."""
    if _get_tracer() is None:
        return contextlib.nullcontext(_NO_SPAN)
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.type": "function",
        "openinference.span.kind": "TOOL",
        "tool.name": name,
        "resilient_agents.step": step,
        "resilient_agents.attempt": _next_attempt(step),
        "resilient_agents.tool.batched": None if batch_size is None else batch_size > 1,
        "resilient_agents.tool.batch_size": batch_size,
    }
    return _execution_span(f"execute_tool {name}", parent_ctx, attributes)


_TOOL_BATCH: contextvars.ContextVar[int | None] = contextvars.ContextVar("resilient_agents_tool_batch", default=None)


def note_tool_batch(size: int) -> None:
    """Remember how many tool calls the last model response asked for (tool tasks started next inherit it)."""
    if _checked and _tracer is not None:
        _TOOL_BATCH.set(size)


def tool_batch() -> int | None:
    """The number of tool calls of the model response whose tools run now, when known."""
    return _TOOL_BATCH.get()


def handoff(ctx: Any, source: str, target: str) -> None:
    """A span for a handoff from ``source`` to ``target`` (not emitted while the engine replays)."""
    tracer = _get_tracer()
    if tracer is None or is_replaying(ctx):
        return
    attributes = {
        "gen_ai.operation.name": "handoff",
        "gen_ai.agent.name": source,
        "resilient_agents.handoff.from": source,
        "resilient_agents.handoff.to": target,
        "openinference.span.kind": "CHAIN",
    }
    tracer.start_span(f"handoff {source} -> {target}", context=parent(ctx), attributes=attributes).end()


class OpenSpan:
    """A started span that outlives an engine attempt, ended explicitly (see :func:`start_call_tool`)."""

    def __init__(self, span: Span) -> None:
        self.handle = SpanHandle(span)

    def finish(self, ctx: Any, error: BaseException | None = None) -> None:
        """End the span if this attempt saw the work finish live; a replayed finish leaves it to the earlier one."""
        span = self.handle.span
        if span is None or is_replaying(ctx):
            return
        if error is not None:
            _error_status(span, error)
        self.handle.set("resilient_agents.outcome", "failed" if error is not None else "completed")
        span.end()


def start_call_tool(
    ctx: Any, parent_ctx: Parent | None, *, step: str, name: str, call_id: str, batch_size: int
) -> OpenSpan | None:
    """Start the span of a tool call that is a call to a handler (it may wait across attempts).

    Its span id is derived from the invocation and the call id, so every attempt names the same span; only
    the attempt that sees the call complete live ends it (:meth:`OpenSpan.finish`).
    """
    tracer = _get_tracer()
    if tracer is None:
        return None
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.type": "function",
        "openinference.span.kind": "TOOL",
        "tool.name": name,
        "resilient_agents.step": step,
        "resilient_agents.tool.batched": batch_size > 1,
        "resilient_agents.tool.batch_size": batch_size,
    }
    attributes = _resumed(ctx, attributes, None)
    token = _FORCED_SPAN_ID.set(_derived_span_id(ctx, f"tool/{call_id}"))
    try:
        return OpenSpan(tracer.start_span(f"execute_tool {name}", context=parent_ctx, attributes=attributes))
    finally:
        _FORCED_SPAN_ID.reset(token)


_plain_tools: dict[str, tuple[contextlib.AbstractContextManager[SpanHandle], SpanHandle]] = {}


def start_plain_tool(call_id: str | None, name: str) -> None:
    """Open the span of a tool that is not journaled (it runs again on replay: only live runs get a span)."""
    if _get_tracer() is None or call_id is None or is_replaying():
        return
    span = tool_call(parent(), step=f"plain: {name}", name=name, call_id=call_id, batch_size=tool_batch())
    handle = span.__enter__()
    if len(_plain_tools) > 10_000:
        _plain_tools.clear()
    _plain_tools[call_id] = (span, handle)


def end_plain_tool(call_id: str | None, result: object) -> None:
    """Close the span opened by :func:`start_plain_tool` (the result only with the content setting)."""
    entry = _plain_tools.pop(call_id, None) if call_id is not None else None
    if entry is None:
        return
    span, handle = entry
    handle.set_content("output.value", str(result))
    span.__exit__(None, None, None)


def host_of(client: Any) -> str:
    """``host:port`` of the model server a client talks to (``api.openai.com``); empty when it cannot be told."""
    for candidate in (client, getattr(client, "wrapped", None)):
        inner = getattr(candidate, "_client", None)
        base_url = getattr(inner, "base_url", None)
        host = getattr(base_url, "host", None)
        if host:
            port = getattr(base_url, "port", None)
            return f"{host}:{port}" if port else str(host)
        url = getattr(candidate, "_url", None)
        if isinstance(url, str) and "//" in url:
            return url.split("//", 1)[1].split("/", 1)[0]
    return ""


def provider_of(client: Any) -> str:
    """The GenAI provider name of a loop model client (``openai`` or ``anthropic``)."""
    inner = getattr(client, "wrapped", client)
    return "anthropic" if "anthropic" in type(inner).__name__.lower() else "openai"


def approval_wait(
    ctx: Any, *, approval_id: str, tenant: str, created_at_ms: int, title: str
) -> contextlib.AbstractContextManager[SpanHandle]:
    """The span of waiting for a person's decision, from the journaled request time to the decision.

    It covers the whole wait, across suspensions and service restarts: only the attempt that gets the
    decision ends it, with the start time the first attempt journaled.
    """
    if _get_tracer() is None:
        return contextlib.nullcontext(_NO_SPAN)
    start_ns = created_at_ms * 1_000_000
    _extend_current_start(start_ns)
    attributes = {
        "gen_ai.operation.name": "approval_wait",
        "openinference.span.kind": "CHAIN",
        "resilient_agents.approval.id": approval_id,
        "resilient_agents.approval.tenant": tenant,
    }
    span = logical_span(f"approval_wait {approval_id}", ctx, f"approval/{approval_id}", attributes, start_ns=start_ns)
    return _with_content(span, "resilient_agents.approval.title", title)


@contextlib.contextmanager
def _with_content(inner: contextlib.AbstractContextManager[SpanHandle], name: str, value: Any) -> Iterator[SpanHandle]:
    with inner as span:
        span.set_content(name, value)
        yield span


def _extend_current_start(start_ns: int) -> None:
    """Move the current (turn) span's start back to ``start_ns`` when a child began in an earlier attempt.

    A span that outlives an attempt is recreated by the attempt that ends it; a child that started earlier
    (an approval requested before a restart) would otherwise start before its parent.
    """
    from opentelemetry import trace

    span = trace.get_current_span()
    started = getattr(span, "_start_time", None)
    if isinstance(started, int) and started > start_ns:
        span._start_time = start_ns  # type: ignore[attr-defined]  # The SDK's Span keeps it here; no setter.


def _next_attempt(step: str) -> int:
    """Executions of ``step`` in this process, this one included (a retry inside the step counts up)."""
    key = (_invocation_key(), step)
    _attempts[key] = _attempts.get(key, 0) + 1
    if len(_attempts) > 10_000:
        _attempts.clear()
    return _attempts[key]


def _invocation_key() -> str:
    return _invocation_id(_restate_context()) or ""


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in attributes.items() if value is not None}
