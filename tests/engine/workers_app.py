"""A Restate app for the worker tests: which process serves, and a step held by a file gate across ``kill -9``.

``Workers/whoami`` answers the serving process's id after a short pause (so a burst of calls overlaps);
``Workers/held`` runs a journaled step that records ``held-<pid>`` in ``$GATE_DIR`` and waits until the test
creates ``$GATE_DIR/release``, then a last step; it answers the pid that finished the held step.
``Workers/collector`` reports how ``serve`` set up the process's garbage collector.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from pathlib import Path

import restate

from resilient_agents._durable import fast_retry_policy

workers = restate.Service("Workers", invocation_retry_policy=fast_retry_policy())


@workers.handler()
async def whoami(ctx: restate.Context) -> int:
    """The id of the process serving this invocation (not journaled: the test wants the live answer)."""
    await asyncio.sleep(0.05)  # Keep the stream open a moment, so a burst really runs concurrently.
    return os.getpid()


@workers.handler()
async def collector(ctx: restate.Context) -> list[int]:
    """The serving process's garbage collector: objects frozen at start-up, and the youngest threshold."""
    return [gc.get_freeze_count(), gc.get_threshold()[0]]


@workers.handler()
async def held(ctx: restate.Context) -> int:
    """A step held until ``$GATE_DIR/release`` exists; answers the pid that finished it."""

    async def step() -> int:
        gate = Path(os.environ["GATE_DIR"])
        (gate / f"held-{os.getpid()}-{time.monotonic_ns()}").touch()
        while not (gate / "release").exists():  # noqa: ASYNC110 - the signal comes from another process.
            await asyncio.sleep(0.01)
        return os.getpid()

    return await ctx.run_typed("held", step)


app = restate.app(services=[workers])
