"""``resilient-agents chat --stream`` against a fake ingress and service: what the user sees, restarts included."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from resilient_agents.cli import main

STEP = "llm: WeatherAgent #2"


def _lines(*events: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


# The first connection dies in the middle of the model call (the service was killed); the second one is the
# restarted process, which streams that call again from its start.
CONNECTIONS = [
    _lines(
        {"type": "hello", "server": "a"},
        {"type": "llm_start", "step": "llm: WeatherAgent #1", "attempt": 1, "seq": 1},
        {"type": "llm_end", "step": "llm: WeatherAgent #1", "attempt": 1, "seq": 2},
        {"type": "llm_start", "step": STEP, "attempt": 1, "seq": 3},
        {"type": "text_delta", "step": STEP, "attempt": 1, "delta": "It is ", "seq": 4},
    ),
    _lines(
        {"type": "hello", "server": "b"},
        {"type": "llm_start", "step": STEP, "attempt": 1, "seq": 1},
        {"type": "text_delta", "step": STEP, "attempt": 1, "delta": "It is ", "seq": 2},
        {"type": "text_delta", "step": STEP, "attempt": 1, "delta": "sunny.", "seq": 3},
        {"type": "llm_end", "step": STEP, "attempt": 1, "seq": 4},
        {"type": "done", "output": "It is sunny.", "seq": 5},
    ),
]


class _Fake(BaseHTTPRequestHandler):
    connections: ClassVar[list[bytes]] = []
    queries: ClassVar[list[str]] = []
    posts: ClassVar[list[str]] = []
    over: ClassVar[threading.Event] = threading.Event()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.posts.append(self.path)
        self._send(200, json.dumps({"invocationId": "inv_1"}).encode(), "application/json")

    def do_GET(self) -> None:
        if self.path == "/services":  # The admin API: the app's one service, as the engine describes it.
            handlers = [{"name": "run", "input_description": "JSON string", "public": True}]
            body = {"services": [{"name": "Agent", "ty": "Service", "public": True, "handlers": handlers}]}
            self._send(200, json.dumps(body).encode(), "application/json")
        elif self.path.startswith("/_streams/inv_1"):
            self.queries.append(self.path)
            self._send(200, self.connections.pop(0), "application/x-ndjson")
            if not self.connections:
                self.over.set()
        else:  # The ingress's attach: answers once the turn is over.
            self.over.wait(timeout=30)
            self._send(200, json.dumps("It is sunny.").encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def fake() -> Iterator[str]:
    _Fake.connections = list(CONNECTIONS)
    _Fake.queries = []
    _Fake.posts = []
    _Fake.over = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_chat_stream_prints_deltas_and_marks_a_restarted_call(fake: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["chat", "--stream", "--app", "m:app", "--ingress", fake, "--service", fake, "--admin", fake, "Weather?"]
    )

    assert code == 0
    out = capsys.readouterr().out
    assert out == f"It is \n[{STEP} started over after a restart]\nIt is sunny.\n"
    assert "server=a&after=4" in _Fake.queries[1]  # Reconnected saying where it stopped.
    assert _Fake.posts == ["/Agent/run/send"]  # The handler found from the admin API's service list.


def test_chat_stream_refuses_async(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "--stream", "--async", "hi"]) == 2
    assert "--stream" in capsys.readouterr().err
