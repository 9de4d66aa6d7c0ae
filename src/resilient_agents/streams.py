"""Follow a streamed turn as a client: ``follow_stream`` reads a service's side channel across restarts.

SDK-free (only ``httpx``), so clients and the CLI can use it without importing the Agents SDK.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any

import httpx

__all__ = ["HEARTBEAT_SECONDS", "STREAMS_PATH", "follow_stream"]

STREAMS_PATH = "/_streams/"
"""Path prefix of the side channel on the service's port: ``GET /_streams/<invocation id>``."""

HEARTBEAT_SECONDS = 2.0
"""A ``heartbeat`` line goes out after this long without an event, so clients can tell a live stream."""

_FINAL = ("done", "failed")


class _Attach:
    """Waits for the invocation's result at the ingress in a thread of its own."""

    def __init__(self, ingress_url: str, invocation_id: str, timeout: float) -> None:
        self.finished = threading.Event()
        self.event: dict[str, Any] = {}
        url = f"{ingress_url.rstrip('/')}/restate/invocation/{invocation_id}/attach"
        self._thread = threading.Thread(target=self._attach, args=(url, timeout), daemon=True)
        self._thread.start()

    def _attach(self, url: str, timeout: float) -> None:
        try:
            response = httpx.get(url, timeout=timeout)
            body: Any = response.json() if response.content else None
        except ValueError:
            body = response.text
        except httpx.HTTPError as error:
            self.event = {"type": "failed", "message": f"cannot attach to the invocation: {error!r}", "status": 0}
            self.finished.set()
            return
        if response.status_code == 200:
            self.event = {"type": "done", "output": body, "source": "attach"}
        else:
            message = body.get("message", body) if isinstance(body, dict) else body
            self.event = {"type": "failed", "message": str(message), "status": response.status_code}
        self.finished.set()


def follow_stream(
    service_url: str, invocation_id: str, *, ingress_url: str, timeout: float = 300.0
) -> Iterator[dict[str, Any]]:
    """Yield the events of an invocation's side channel (``GET /_streams/<id>``) until the turn ends.

    The last event is ``done`` (with the output) or ``failed``. When the service process dies the client
    reconnects until it is back and goes on reading there: the restarted process replays the calls that are
    journaled without streaming them, so what follows is the rest of the turn, starting with the model call
    that was interrupted (a second ``llm_start`` for that step: drop the text it streamed before). If the
    side channel cannot say how the turn ended (the app does not stream, or the turn finished in a process
    that is gone), the result comes from the ingress instead, as a ``done`` or ``failed`` event with
    ``"source": "attach"`` or a ``status``.

    Args:
        service_url: The service process's URL (where ``durable_app`` is served), e.g. ``http://127.0.0.1:9080``.
        invocation_id: The invocation, as ``/send`` returned it.
        ingress_url: The Restate ingress, for the invocation's result.
        timeout: Seconds to wait for the turn in total.

    Yields:
        The events (see ``EVENT_TYPES`` in the streaming module), without ``hello`` and ``heartbeat``.
    """
    attach = _Attach(ingress_url, invocation_id, timeout)
    deadline = time.monotonic() + timeout
    url = f"{service_url.rstrip('/')}{STREAMS_PATH}{invocation_id}"
    position = {"server": "", "after": 0}
    pause = 0.05
    while time.monotonic() < deadline:
        try:
            with contextlib.closing(_read(url, position)) as events:
                for event in events:
                    if event["type"] == "heartbeat" and attach.finished.is_set():
                        break  # The turn ended and this process has nothing more: take the ingress's answer.
                    if event["type"] != "heartbeat":
                        yield event
                        pause = 0.05
                    if event["type"] in _FINAL:
                        return
        except (httpx.HTTPError, ValueError):
            pass  # The service is down or restarting (or died mid-line): reconnect.
        if attach.finished.is_set():
            yield attach.event
            return
        attach.finished.wait(pause)
        pause = min(pause * 2, 1.0)
    yield {"type": "failed", "message": f"no end of the turn within {timeout:g}s", "status": 0}


def _read(url: str, position: dict[str, Any]) -> Generator[dict[str, Any], None, None]:
    params = {"server": position["server"], "after": str(position["after"])}
    read_timeout = HEARTBEAT_SECONDS * 5
    with httpx.stream("GET", url, params=params, timeout=httpx.Timeout(read_timeout, connect=2.0)) as response:
        if response.status_code != 200:
            return
        for line in response.iter_lines():
            if not line.strip():
                continue
            event: dict[str, Any] = json.loads(line)
            if event["type"] == "hello":
                if event.get("server") != position["server"]:  # Another process: its positions start at 1.
                    position.update(server=event.get("server", ""), after=0)
                continue
            if "seq" in event:
                position["after"] = event["seq"]
            yield event
