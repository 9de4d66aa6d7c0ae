"""Whether and where spans go: the tracer provider, set up once per process from the environment. Private module."""

from __future__ import annotations

import contextvars
import importlib
import logging
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

logger = logging.getLogger("resilient_agents._tracing")

CONTENT_ENV = "RESILIENT_AGENTS_TRACE_CONTENT"
"""Set to ``1`` to record prompts, outputs, tool arguments and results in span attributes."""

MAX_CONTENT_CHARS = 16_000
"""Longest prompt or output text recorded in one attribute."""
_INSTRUMENTATION = "resilient_agents"
_TRUE = ("1", "true", "yes", "on")

_tracer: Tracer | None = None
_checked = False
FORCED_SPAN_ID: contextvars.ContextVar[int] = contextvars.ContextVar("resilient_agents_span_id", default=0)
"""When set, the span id the next span gets (our provider's id generator reads it)."""
ATTEMPTS: dict[tuple[str, str], int] = {}
"""Executions per (invocation, step) in this process."""


Parent = Any
"""An OpenTelemetry context to start child spans in (opaque here so that callers need no OpenTelemetry import)."""


def enabled() -> bool:
    """Whether spans are recorded (checked once per process, at the first span)."""
    return get_tracer() is not None


def content_enabled() -> bool:
    """Whether prompts and outputs may be recorded (``RESILIENT_AGENTS_TRACE_CONTENT=1``)."""
    return os.environ.get(CONTENT_ENV, "").strip().lower() in _TRUE


def reset_for_tests() -> None:
    """Forget the cached tracer so that the next span checks the environment again."""
    global _tracer, _checked
    _tracer, _checked = None, False
    ATTEMPTS.clear()


def get_tracer() -> Tracer | None:
    """The tracer our spans use, or ``None`` when tracing is off (decided at the first call, then cached)."""
    global _tracer, _checked
    if not _checked:
        _checked = True
        try:
            _tracer = _make_tracer()
            if _tracer is not None:
                from ._sleep import install as trace_sleeps

                trace_sleeps()
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
            return FORCED_SPAN_ID.get() or super().generate_span_id()

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
