"""The trace viewer's HTTP server: OTLP/HTTP receiver, HTML pages and a JSON API on one port. Private module."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from resilient_agents.errors import ResilientAgentsError

from ._html import list_page, trace_page
from ._otlp import OtlpDecodeError, decode_export
from ._store import TraceStore

DEFAULT_PORT = 4318
"""The standard OTLP/HTTP port, so OpenTelemetry exporters' default endpoint lands here too."""

_MAX_BODY = 64 * 1024 * 1024


class TraceViewerError(ResilientAgentsError):
    """The trace viewer cannot start (e.g. its port is taken)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: TraceStore) -> None:
        self.store = store
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # Quiet: the exporters post every few seconds.
        return

    def do_POST(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._send(413, "text/plain", b"export too large\n")
            return
        body = self.rfile.read(length)
        if path not in ("", "/v1/traces"):
            self._send(404, "text/plain", b"POST OTLP traces to /v1/traces\n")
            return
        content_type = self.headers.get("Content-Type") or "application/x-protobuf"
        try:
            spans = decode_export(body, content_type, self.headers.get("Content-Encoding") or "")
        except OtlpDecodeError as error:
            self._send(400, "text/plain", f"{error}\n".encode())
            return
        self.server.store.add(spans)
        if "json" in content_type:
            self._send(200, "application/json", b"{}")
        else:  # An empty ExportTraceServiceResponse.
            self._send(200, "application/x-protobuf", b"")

    def do_GET(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        store = self.server.store
        host, port = str(self.server.server_address[0]), int(self.server.server_address[1])
        if path == "":
            page = list_page(store.summaries(), f"http://{host}:{port}/v1/traces")
            self._send(200, "text/html; charset=utf-8", page.encode())
        elif path.startswith("/trace/"):
            trace_id = path.removeprefix("/trace/").lower()
            spans = store.spans(trace_id)
            self._send(200 if spans else 404, "text/html; charset=utf-8", trace_page(trace_id, spans).encode())
        elif path == "/api/traces":
            document: Any = [{**summary.__dict__, "duration_ns": summary.duration_ns} for summary in store.summaries()]
            self._send(200, "application/json", json.dumps(document).encode())
        elif path.startswith("/api/traces/"):
            spans = store.spans(path.removeprefix("/api/traces/"))
            self._send(200 if spans else 404, "application/json", json.dumps([s.to_json() for s in spans]).encode())
        elif path == "/health":
            self._send(200, "text/plain", b"ok\n")
        else:
            self._send(404, "text/plain", b"not found: try / or /api/traces\n")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class TraceViewer:
    """A local trace viewer: receives OTLP/HTTP (protobuf or JSON) and shows the traces as web pages.

    Everything is served on one port: ``POST /v1/traces`` (OTLP), ``/`` (the trace list), ``/trace/<id>``
    (a trace as a span tree), ``/api/traces`` and ``/api/traces/<id>`` (JSON). Traces live in memory only.

    Example:
        >>> with TraceViewer(port=0) as viewer:  # doctest: +SKIP
        ...     print(viewer.url, viewer.otlp_endpoint)

    Args:
        host: The address to bind; keep loopback.
        port: The port; 0 picks a free one (read :attr:`port` after :meth:`start`).
        max_traces: How many traces to keep; the oldest go first.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, max_traces: int = 1000) -> None:
        if not 0 <= port <= 65535:
            raise TraceViewerError(f"port {port!r} is not a TCP port: use 1-65535, or 0 for a free one")
        self.host = host
        self._requested_port = port
        self.store = TraceStore(max_traces)
        """The received spans."""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> TraceViewer:
        """Bind the port and serve in a daemon thread.

        Raises:
            TraceViewerError: The port cannot be bound.
        """
        if self._server is not None:
            raise TraceViewerError("the trace viewer is already running")
        try:
            self._server = _Server((self.host, self._requested_port), self.store)
        except OSError as error:
            raise TraceViewerError(
                f"the trace viewer cannot listen on {self.host}:{self._requested_port}: {error}. "
                "Pick another port (up --trace-port PORT), or stop what uses it."
            ) from error
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="trace-viewer", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port (the stored traces stay readable)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> TraceViewer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port.

        Raises:
            TraceViewerError: The viewer is not running.
        """
        if self._server is None:
            raise TraceViewerError("the trace viewer is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The web page, e.g. ``http://127.0.0.1:4318/``."""
        return f"http://{self.host}:{self.port}/"

    @property
    def otlp_endpoint(self) -> str:
        """The base URL for ``OTEL_EXPORTER_OTLP_ENDPOINT`` (exporters add ``/v1/traces``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def engine_endpoint(self) -> str:
        """The URL for restate-server's ``--tracing-endpoint``: OTLP/HTTP JSON to this viewer."""
        return f"http+json+otlp://{self.host}:{self.port}/v1/traces"

    def trace_url(self, trace_id: str) -> str:
        """The page of one trace."""
        return f"{self.url}trace/{trace_id}"
