"""OpenTelemetry spans of agent turns, model calls, tools, handoffs, approval waits and durable sleeps. Private package.

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
``resilient_agents.attempt``). Handoffs and plain function tools get a span only when the engine is not
replaying. Spans that cover more than one engine attempt (the turn, an approval wait, a tool with durable
actions, a native-loop tool that calls a handler) are started again by every attempt under the same span id
(derived from the invocation id) and ended only by the attempt that sees the work finish live: an attempt
that suspends, fails or is killed leaves them open, and the spans an earlier attempt exported (the first
model call before a crash) still name the right parent.

**Content.** Prompts, outputs, tool arguments and results are recorded only with
``RESILIENT_AGENTS_TRACE_CONTENT=1``; keys and headers never are.
"""

from ._agents import (
    approval_wait,
    end_plain_tool,
    handoff,
    host_of,
    model_call,
    note_tool_batch,
    provider_of,
    start_plain_tool,
    start_resumable_tool,
    tool_batch,
    tool_call,
    turn,
)
from ._setup import CONTENT_ENV, Parent, content_enabled, enabled, reset_for_tests
from ._spans import OpenSpan, SpanHandle, logical_span
from ._where import is_replaying, parent

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
    "start_plain_tool",
    "start_resumable_tool",
    "tool_batch",
    "tool_call",
    "turn",
]
