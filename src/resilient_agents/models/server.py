"""The offline, OpenAI-compatible model server (stdlib HTTP in a daemon thread, loopback only)."""

from __future__ import annotations

import ipaddress
import threading
from types import TracebackType

from resilient_agents.errors import ModelServerError
from resilient_agents.models._handler import OfflineHTTPServer, ServerState
from resilient_agents.models.request import RecordedRequest, Responder

_POLL_INTERVAL_SECONDS = 0.05
_JOIN_TIMEOUT_SECONDS = 2.0


def _loopback_host(host: str) -> str:
    """Check that ``host`` is an IPv4 loopback address (``localhost`` means ``127.0.0.1``)."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or address.version != 4 or not address.is_loopback:
        raise ModelServerError(f"The offline model server only binds to IPv4 loopback (127.0.0.1), not {host!r}.")
    return host


class ModelServer:
    """An OpenAI-compatible HTTP model server answering from a :class:`Responder`, for offline use and tests.

    It serves ``POST /v1/responses``, ``POST /v1/chat/completions``, ``POST /v1/messages`` (Anthropic),
    ``GET /v1/models`` and ``GET /health`` on 127.0.0.1; Responses and Chat Completions also stream.

    Example:
        >>> with ModelServer(ScriptedModel(Reply.say("hi"))) as srv:  # doctest: +SKIP
        ...     client = openai.OpenAI(base_url=srv.base_url, api_key="test")

    Args:
        responder: Decides every answer.
        host: The loopback address to bind to.
        port: The port; 0 picks a free one (read it from :attr:`port` after :meth:`start`).

    Raises:
        ModelServerError: If ``host`` is not a loopback address, ``port`` is out of range or ``responder``
            has no ``respond`` method.
    """

    def __init__(self, responder: Responder, host: str = "127.0.0.1", port: int = 0) -> None:
        if not isinstance(responder, Responder):
            raise ModelServerError(f"responder must have a respond(request) method, got {type(responder).__name__}")
        if not 0 <= port <= 65535:
            raise ModelServerError(f"port must be between 0 and 65535, got {port}")
        self._host = _loopback_host(host)
        self._requested_port = port
        self._state = ServerState(responder)
        self._httpd: OfflineHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def responder(self) -> Responder:
        """The responder answering requests."""
        return self._state.responder

    @property
    def running(self) -> bool:
        """Whether the server is started and not yet stopped."""
        return self._httpd is not None

    @property
    def port(self) -> int:
        """The port the server listens on.

        Raises:
            ModelServerError: If the server is not running.
        """
        return self._running_server().server_address[1]

    @property
    def root_url(self) -> str:
        """The server's root URL, e.g. ``http://127.0.0.1:8123`` (the base URL for Anthropic clients)."""
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. ``http://127.0.0.1:8123/v1``, for ``AsyncOpenAI(base_url=...)``."""
        return f"{self.root_url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the model requests received so far, oldest first (credentials removed)."""
        return self._state.records()

    def start(self) -> ModelServer:
        """Bind the port and start serving in a daemon thread.

        Returns:
            This server, so ``srv = ModelServer(...).start()`` works.

        Raises:
            ModelServerError: If the server is already running or the port cannot be bound.
        """
        with self._lock:
            if self._httpd is not None:
                raise ModelServerError("The offline model server is already running.")
            try:
                httpd = OfflineHTTPServer((self._host, self._requested_port), self._state)
            except OSError as exc:
                raise ModelServerError(
                    f"Cannot listen on {self._host}:{self._requested_port}: {exc}. Pick another port or use port=0."
                ) from exc
            self._state.stopping.clear()
            thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": _POLL_INTERVAL_SECONDS},
                name=f"offline-model-server-{httpd.server_address[1]}",
                daemon=True,
            )
            thread.start()
            self._httpd, self._thread = httpd, thread
        return self

    def stop(self) -> None:
        """Stop serving and close the port. Safe to call twice; never waits for hung handlers."""
        with self._lock:
            httpd, thread = self._httpd, self._thread
            self._httpd, self._thread = None, None
        if httpd is None:
            return
        self._state.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        self._state.close_connections()
        if thread is not None:
            thread.join(_JOIN_TIMEOUT_SECONDS)

    def __enter__(self) -> ModelServer:
        """Start the server if it is not running yet."""
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"ModelServer({type(self.responder).__name__}, {where})"

    def _running_server(self) -> OfflineHTTPServer:
        httpd = self._httpd
        if httpd is None:
            raise ModelServerError("The offline model server is not running; call start() first.")
        return httpd
