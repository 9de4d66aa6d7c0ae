"""A loopback HTTP proxy in front of the test model server that records each request's path and headers.

The model server drops credentials from its request log; this proxy keeps them, so a test can check which key
(or placeholder) a service really sent. Its address is known before the model server starts, so a test can put
it in the service's environment (``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL``) up front.
"""

from __future__ import annotations

import dataclasses
import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit


@dataclasses.dataclass(frozen=True)
class Seen:
    """One request the proxy forwarded."""

    method: str
    path: str
    headers: dict[str, str]


class RecordingProxy:
    """Forwards every request to :attr:`target` (set it once the model server runs) and records it."""

    def __init__(self) -> None:
        self.target = ""
        self.seen: list[Seen] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                proxy.seen.append(Seen(self.command, self.path, headers))
                where = urlsplit(proxy.target)
                upstream = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=60)
                try:
                    forwarded = {k: v for k, v in headers.items() if k not in ("host", "connection")}
                    upstream.request(self.command, self.path, body=body, headers=forwarded)
                    answer = upstream.getresponse()
                    payload = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                self.send_header("content-type", answer.getheader("content-type") or "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:  # Quiet.
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The proxy's root URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``, as error messages name it."""
        return f"127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> RecordingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> RecordingProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
