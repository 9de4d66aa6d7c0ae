"""A small local trace viewer: receives OpenTelemetry traces over OTLP/HTTP and shows them as span trees.

``resilient-agents up --trace`` starts one and points both restate-server and the app's service at it, so one
turn shows as one tree: ingress → invocation → turn → model calls and tools. It needs nothing beyond the
standard library, works offline, and keeps traces in memory. Run it alone with
``python -m resilient_agents.traceview`` and point any OTLP/HTTP exporter at it.

Example:
    >>> from resilient_agents.traceview import TraceViewer
    >>> with TraceViewer(port=0) as viewer:  # doctest: +SKIP
    ...     print(viewer.url)  # open in a browser; POST OTLP to viewer.otlp_endpoint + "/v1/traces"
"""

from __future__ import annotations

from ._browser import BROWSER_ENV, BrowserError, find_browser, screenshot
from ._otlp import AttributeValue, OtlpDecodeError, SpanEvent, TraceSpan, decode_export
from ._server import DEFAULT_PORT, TraceViewer, TraceViewerError
from ._store import TraceStore, TraceSummary

__all__ = [
    "BROWSER_ENV",
    "DEFAULT_PORT",
    "AttributeValue",
    "BrowserError",
    "OtlpDecodeError",
    "SpanEvent",
    "TraceSpan",
    "TraceStore",
    "TraceSummary",
    "TraceViewer",
    "TraceViewerError",
    "decode_export",
    "find_browser",
    "screenshot",
]
