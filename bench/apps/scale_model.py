"""The scale bench's model server: asyncio, in a process of its own, so that it is not what limits the bench.

``python -m bench.apps.scale_model --delay-ms 200`` serves ``POST /v1/responses`` (the OpenAI Responses API) with
the weather turn's model (a ``get_weather`` call, then an answer quoting the tool's output; see
``bench._common.WeatherTurnResponder``), rendered by the project's offline model code, and answers every request
after the delay. Unlike ``resilient_agents.models.ModelServer`` (a thread per connection, a sleeping thread per
request), one event loop serves every connection: with hundreds of requests in flight the threaded server spent
more CPU per turn than the service under test. It prints ``ready <base URL>`` once listening, then reads
commands on its standard input: ``delay <ms>`` changes the delay (it answers ``ok``); end of file stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
from collections.abc import Sequence

from bench._common import WeatherTurnResponder
from resilient_agents.models._parse import parse_request
from resilient_agents.models._render import IdFactory, render_reply

_HEAD_LIMIT = 64 * 1024


class _Model:
    """What every request is answered with, after :attr:`delay` seconds (changed from the control thread)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.requests = 0
        self._responder = WeatherTurnResponder()
        self._ids = IdFactory()

    async def answer(self, method: str, path: str, body: bytes) -> tuple[str, bytes]:
        """The status line's tail and the JSON body for one request."""
        if method != "POST" or not path.rstrip("/").endswith("/responses"):
            return "404 Not Found", json.dumps({"error": {"message": f"no route {method} {path}"}}).encode()
        self.requests += 1
        parsed = parse_request("responses", json.loads(body))
        reply = self._responder.respond(parsed)
        if self.delay > 0:
            await asyncio.sleep(self.delay)  # A stand-in for the model's latency.
        return "200 OK", json.dumps(render_reply("responses", reply, parsed, self._ids)).encode()


async def _connection(model: _Model, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Serve one keep-alive HTTP/1.1 connection (requests with a ``content-length`` body, as httpx sends them)."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            length = 0
            for line in header_lines:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            status, payload = await model.answer(method, path, body)
            head_out = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
            writer.write(head_out.encode() + payload)
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


def _control(model: _Model, loop: asyncio.AbstractEventLoop, done: asyncio.Event) -> None:
    """Read ``delay <ms>`` commands from standard input; end of file stops the server."""
    for line in sys.stdin:
        command, _, value = line.strip().partition(" ")
        if command == "delay":
            model.delay = float(value) / 1000.0
            print("ok", flush=True)
    loop.call_soon_threadsafe(done.set)


async def _serve(delay: float) -> None:
    model = _Model(delay)
    server = await asyncio.start_server(
        lambda r, w: _connection(model, r, w), "127.0.0.1", 0, limit=_HEAD_LIMIT, backlog=1024
    )
    port = server.sockets[0].getsockname()[1]
    done = asyncio.Event()
    threading.Thread(target=_control, args=(model, asyncio.get_running_loop(), done), daemon=True).start()
    print(f"ready http://127.0.0.1:{port}/v1", flush=True)
    async with server:
        await done.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until standard input closes."""
    parser = argparse.ArgumentParser(prog="python -m bench.apps.scale_model")
    parser.add_argument("--delay-ms", type=float, default=200.0)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.delay_ms / 1000.0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
