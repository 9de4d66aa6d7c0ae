"""Small ASGI pieces shared by the apps we serve. Private module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


async def answer_lifespan(receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]) -> None:
    """Complete an ASGI lifespan (startup, then shutdown) for an app that has nothing to do in it.

    Restate's app has no lifespan handler, and hypercorn logs a warning at every start without one.
    """
    while True:
        message = await receive()
        if message.get("type") == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message.get("type") == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
