"""The HTTP side of the offline model server: shared state, the threading server and the request handler.

Every request is answered with JSON; nothing a client sends can raise out of a handler thread.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import urlsplit

from resilient_agents.models._parse import BadRequestError, parse_request
from resilient_agents.models._render import IdFactory, anthropic_error, openai_error, render_reply
from resilient_agents.models._stream import STREAM_APIS, stream_frames
from resilient_agents.models.demo import DEMO_MODEL_NAME
from resilient_agents.models.reply import Fault, Reply
from resilient_agents.models.request import ApiName, ParsedRequest, RecordedRequest, Responder

logger = logging.getLogger("resilient_agents.models")

MAX_BODY_BYTES = 32 * 1024 * 1024
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie"})
DEFAULT_MODEL_IDS = (DEMO_MODEL_NAME,)

_POST_ROUTES: dict[str, ApiName] = {
    "/v1/responses": "responses",
    "/v1/chat/completions": "chat",
    "/v1/messages": "anthropic",
}
_TRUNCATED_BODY = b'{"id": "resp_truncated", "object": "response", "output": [{"type": "mess'
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
}


class ServerState:
    """What the handler threads share: the responder, the id generator, the request log and open sockets."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.ids = IdFactory()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._records: list[RecordedRequest] = []
        self._models_seen: list[str] = list(DEFAULT_MODEL_IDS)
        self._connections: set[socket.socket] = set()

    def record(self, api: ApiName, path: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        """Append a request to the log, remembering its model name for ``GET /v1/models``."""
        with self._lock:
            index = len(self._records)
            self._records.append(RecordedRequest(api=api, path=path, body=body, headers=headers, index=index))
            model = body.get("model")
            if isinstance(model, str) and model and model not in self._models_seen:
                self._models_seen.append(model)

    def records(self) -> list[RecordedRequest]:
        """Return a snapshot of the request log."""
        with self._lock:
            return list(self._records)

    def model_ids(self) -> list[str]:
        """Return the model names to list: the demo model plus every model requested so far."""
        with self._lock:
            return list(self._models_seen)

    def track(self, connection: socket.socket) -> None:
        """Remember an open client connection so :meth:`close_connections` can end it."""
        with self._lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        """Forget a client connection that was closed."""
        with self._lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down every open client connection so idle keep-alive threads end promptly."""
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class OfflineHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server whose handler threads never delay shutdown."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], state: ServerState) -> None:
        self.state = state
        super().__init__(address, RequestHandler)


def clean_headers(headers: Any) -> dict[str, str]:
    """Lower-case the header names and drop credentials.

    Args:
        headers: The request's headers (an ``email.message.Message``).

    Returns:
        The headers without ``authorization``, ``x-api-key`` and similar.
    """
    items = cast(list[tuple[str, str]], headers.items())
    return {name.lower(): value for name, value in items if name.lower() not in SENSITIVE_HEADERS}


class RequestHandler(BaseHTTPRequestHandler):
    """Answers one client connection (HTTP/1.1 keep-alive) on behalf of :class:`OfflineHTTPServer`."""

    protocol_version = "HTTP/1.1"
    server_version = "resilient-agents-offline-model"
    timeout = 120.0
    # Headers and body go out in two sends; with Nagle's algorithm on, the body of every answer after the
    # first on a kept-alive connection waited ~40 ms for the client's delayed ACK (measured by the bench).
    disable_nagle_algorithm = True

    @property
    def state(self) -> ServerState:
        """The state shared by the server's handler threads."""
        return cast(OfflineHTTPServer, self.server).state

    def setup(self) -> None:
        """Start handling a connection and track it."""
        super().setup()
        self.state.track(self.connection)

    def finish(self) -> None:
        """Stop tracking the connection and close it."""
        self.state.untrack(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        """Log through :mod:`logging` at debug level instead of writing to stderr (no headers are logged)."""
        logger.debug("offline model: " + format, *args)

    def do_GET(self) -> None:
        """Serve ``GET /health``, ``GET /v1/models`` and ``GET /v1/models/{id}``."""
        self._guarded(self._handle_get)

    def do_POST(self) -> None:
        """Serve the three model APIs."""
        self._guarded(self._handle_post)

    def do_PUT(self) -> None:
        """Reject the method with a JSON 405."""
        self._guarded(self._method_not_allowed)

    do_DELETE = do_PUT
    do_PATCH = do_PUT

    # --- dispatch --------------------------------------------------------------------------------------------

    def _guarded(self, handler: Callable[[], None]) -> None:
        try:
            handler()
        except OSError:
            # The client went away (e.g. it timed out during a hang, or the server is stopping).
            self.close_connection = True
        except Exception:
            logger.exception("offline model server: unexpected error while handling %s", self.command)
            self.close_connection = True
            try:
                self._send_json(500, openai_error("Internal error in the offline model server.", "server_error"))
            except OSError:
                pass

    def _path(self) -> str:
        path = urlsplit(self.path).path
        return path.rstrip("/") or "/"

    def _handle_get(self) -> None:
        path = self._path()
        if path == "/health":
            self._send_json(200, {"status": "ok"})
        elif path == "/v1/models":
            models = [_model_object(model_id) for model_id in self.state.model_ids()]
            self._send_json(200, {"object": "list", "data": models})
        elif path.startswith("/v1/models/"):
            self._send_json(200, _model_object(path.removeprefix("/v1/models/")))
        else:
            self._not_found(path)

    def _method_not_allowed(self) -> None:
        self._discard_body()
        message = f"Method {self.command} is not allowed on {self._path()}."
        self._send_json(405, openai_error(message, "invalid_request_error", "method_not_allowed"))

    def _handle_post(self) -> None:
        raw = self._read_body()
        if raw is None:
            return
        path = self._path()
        api = _POST_ROUTES.get(path)
        if api is None:
            self._not_found(path)
            return
        body = self._decode_json(api, raw)
        if body is None:
            return
        self.state.record(api, path, body, clean_headers(self.headers))
        if body.get("stream") is True and api not in STREAM_APIS:
            message = "The offline model streams the Responses and Chat Completions APIs only; send stream=false."
            self._send_error(api, 400, message, "invalid_request_error", code="streaming_not_supported", param="stream")
            return
        self._answer(api, body)

    def _answer(self, api: ApiName, body: dict[str, Any]) -> None:
        try:
            parsed = parse_request(api, body)
        except BadRequestError as exc:
            self._send_error(api, 400, f"Invalid request: {exc}.", "invalid_request_error")
            return
        try:
            outcome: object = self.state.responder.respond(parsed)
        except Exception as exc:
            logger.exception("offline model responder %r raised", self.state.responder)
            message = f"The offline model's responder raised {type(exc).__name__}: {exc}"
            self._send_error(api, 500, message, "server_error", code="responder_error")
            return
        if isinstance(outcome, Reply) and body.get("stream") is True:
            self._send_stream(api, outcome, parsed)
        elif isinstance(outcome, Reply):
            self._send_json(200, render_reply(api, outcome, parsed, self.state.ids))
        elif isinstance(outcome, Fault):
            self._send_fault(api, outcome)
        else:
            message = f"The offline model's responder returned {type(outcome).__name__}, expected Reply or Fault."
            self._send_error(api, 500, message, "server_error", code="responder_error")

    # --- request body ----------------------------------------------------------------------------------------

    def _content_length(self) -> int | None:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return None
        try:
            length = int(self.headers.get("content-length", "0"))
        except ValueError:
            return None
        return length if 0 <= length <= MAX_BODY_BYTES else None

    def _read_body(self) -> bytes | None:
        length = self._content_length()
        if length is None:
            self.close_connection = True
            message = f"Send a JSON body with a valid Content-Length of at most {MAX_BODY_BYTES} bytes."
            self._send_json(413, openai_error(message, "invalid_request_error", "invalid_body_length"))
            return None
        return self.rfile.read(length) if length else b""

    def _discard_body(self) -> None:
        length = self._content_length()
        if length:
            self.rfile.read(length)
        elif length is None:
            self.close_connection = True

    def _decode_json(self, api: ApiName, raw: bytes) -> dict[str, Any] | None:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            self._send_error(api, 400, f"The request body is not valid JSON: {exc}.", "invalid_request_error")
            return None
        if not isinstance(body, dict):
            self._send_error(api, 400, "The request body must be a JSON object.", "invalid_request_error")
            return None
        return body

    # --- responses -------------------------------------------------------------------------------------------

    def _not_found(self, path: str) -> None:
        message = f"Unknown path {path!r}: the offline model serves /v1/responses, /v1/chat/completions, " + (
            "/v1/messages, /v1/models and /health."
        )
        self._send_json(404, openai_error(message, "invalid_request_error", "not_found"))

    def _send_fault(self, api: ApiName, fault: Fault) -> None:
        if fault.kind == "malformed":
            self._send_bytes(200, _TRUNCATED_BODY, "application/json")
            return
        headers: dict[str, str] = {}
        if fault.kind == "rate_limit":
            retry_after = fault.retry_after if fault.retry_after is not None else 1.0
            headers = {"retry-after": f"{retry_after:g}", "retry-after-ms": str(int(retry_after * 1000))}
            self._send_error(api, 429, fault.message, "rate_limit_error", code="rate_limit_exceeded", headers=headers)
            return
        if fault.kind == "hang":
            self.state.stopping.wait(fault.delay)
            self.close_connection = True
        self._send_error(api, fault.status, fault.message, "server_error", code=fault.kind)

    def _send_error(
        self,
        api: ApiName,
        status: int,
        message: str,
        error_type: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if api == "anthropic":
            anthropic_type = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
            self._send_json(status, anthropic_error(message, anthropic_type), headers)
        else:
            self._send_json(status, openai_error(message, error_type, code, param), headers)

    def _send_stream(self, api: ApiName, reply: Reply, parsed: ParsedRequest) -> None:
        # No content length: the body ends when the connection closes, which every HTTP/1.1 client reads.
        self.close_connection = True
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.flush()
        for frame in stream_frames(api, reply, parsed, self.state.ids):
            self.wfile.write(frame)
            self.wfile.flush()

    def _send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self._send_bytes(status, payload, "application/json", headers)

    def _send_bytes(
        self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()


def _model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "resilient-agents"}
