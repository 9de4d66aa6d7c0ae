"""``up --trace``: the local trace viewer, and the settings that point the engine and the service at it. Private."""

from __future__ import annotations

import importlib.util

from resilient_agents.traceview import TraceViewer


def service_trace_env(viewer: TraceViewer, service_name: str) -> dict[str, str]:
    """The standard OpenTelemetry variables that make the service export its spans to ``viewer``."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": viewer.otlp_endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": service_name,
    }


def trace_lines(viewer: TraceViewer) -> list[str]:
    """What ``up`` prints about tracing when the stack is ready."""
    lines = [
        f"  traces: {viewer.url}  (OTLP/HTTP at {viewer.otlp_endpoint}/v1/traces; the engine's spans arrive ~10 s late)"
    ]
    if importlib.util.find_spec("opentelemetry.sdk") is None:
        lines.append(
            "  ! the OpenTelemetry SDK is not installed: only the engine's spans are shown. For the agent's spans "
            "(turns, model calls, tools): pip install 'resilient-agents[otel]'"
        )
    return lines
