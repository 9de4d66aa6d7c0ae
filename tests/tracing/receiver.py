"""An in-process OTLP/HTTP trace receiver for tests: ``POST /v1/traces`` in JSON or protobuf, on loopback.

The engine exports OTLP/HTTP JSON (``http+json+otlp://``); the service's OpenTelemetry SDK exports OTLP/HTTP
protobuf. Both are decoded into :class:`ReceivedSpan` records that tests inspect.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import gzip
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclasses.dataclass(frozen=True)
class ReceivedSpan:
    """One span as the receiver got it."""

    service: str
    """``service.name`` of the exporting resource."""
    trace_id: str
    """Hex trace id."""
    span_id: str
    """Hex span id."""
    parent_id: str
    """Hex parent span id, empty for a root span."""
    name: str
    """The span's name."""
    attributes: dict[str, Any]
    """The span's attributes, values unwrapped."""
    start_ns: int
    """Start, in ns since the epoch."""
    end_ns: int
    """End, in ns since the epoch."""
    status: str
    """The status code (``STATUS_CODE_ERROR``, ...), empty when unset."""


class TraceReceiver:
    """A loopback OTLP/HTTP server that keeps every span it receives (use as a context manager)."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.posts: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming.
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                kind = self.headers.get("content-type", "")
                receiver._accept(kind, body)
                if "json" in kind:
                    answer, answer_type = b"{}", "application/json"
                else:
                    answer, answer_type = ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf"
                self.send_response(200)
                self.send_header("content-type", answer_type)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the base URL (exporters append ``/v1/traces``)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> TraceReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def snapshot(self) -> list[ReceivedSpan]:
        """The spans received so far."""
        with self._lock:
            return list(self.spans)

    def find(self, predicate: Callable[[ReceivedSpan], bool]) -> list[ReceivedSpan]:
        """The spans received so far that match ``predicate``."""
        return [span for span in self.snapshot() if predicate(span)]

    def _accept(self, content_type: str, body: bytes) -> None:
        if "json" in content_type:
            payload = json.loads(body)
        else:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            payload = MessageToDict(request)
        spans = list(_spans_of(payload))
        with self._lock:
            self.posts.append((content_type, body))
            self.spans.extend(spans)


def _spans_of(payload: dict[str, Any]) -> Any:
    for resource_spans in payload.get("resourceSpans") or payload.get("resource_spans") or []:
        resource = resource_spans.get("resource") or {}
        service = str(_attributes(resource.get("attributes") or []).get("service.name", ""))
        for scope_spans in resource_spans.get("scopeSpans") or resource_spans.get("scope_spans") or []:
            for span in scope_spans.get("spans") or []:
                yield ReceivedSpan(
                    service=service,
                    trace_id=_hex(span.get("traceId") or span.get("trace_id") or ""),
                    span_id=_hex(span.get("spanId") or span.get("span_id") or ""),
                    parent_id=_hex(span.get("parentSpanId") or span.get("parent_span_id") or ""),
                    name=str(span.get("name", "")),
                    attributes=_attributes(span.get("attributes") or []),
                    start_ns=int(span.get("startTimeUnixNano") or span.get("start_time_unix_nano") or 0),
                    end_ns=int(span.get("endTimeUnixNano") or span.get("end_time_unix_nano") or 0),
                    status=str((span.get("status") or {}).get("code", "")),
                )


def _hex(value: str) -> str:
    """OTLP/JSON carries ids as hex; protobuf-to-dict gives base64. Return hex either way."""
    if not value:
        return ""
    if len(value) in (16, 32):
        try:
            int(value, 16)
        except ValueError:
            pass
        else:
            return value.lower()
    try:
        return base64.b64decode(value).hex()
    except (binascii.Error, ValueError):
        return value


def _attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["key"]: _value(item.get("value") or {}) for item in items}


def _value(value: dict[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [_value(v) for v in value["arrayValue"].get("values") or []]
    return value
