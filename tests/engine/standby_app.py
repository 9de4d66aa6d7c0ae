"""A Restate app for the warm-standby tests: three journaled steps, the middle one held by a file gate.

Each step records itself as a file in ``$GATE_DIR`` (side effects the test counts across ``kill -9``); the
middle step also names the process running it, then waits until the test creates ``$GATE_DIR/release``.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import restate

from resilient_agents._durable import fast_retry_policy

steps = restate.Service("Steps", invocation_retry_policy=fast_retry_policy())


def _record(kind: str) -> None:
    (Path(os.environ["GATE_DIR"]) / f"{kind}-{os.getpid()}-{time.monotonic_ns()}").touch()


@steps.handler()
async def run(ctx: restate.Context, name: str) -> str:
    """Run step one, the held step, then step three.

    Args:
        ctx: The Restate context.
        name: Put into the answer.

    Returns:
        The answer, naming the process that ran the held step.
    """

    async def first() -> None:
        _record("first")

    async def held() -> int:
        _record("held")
        release = Path(os.environ["GATE_DIR"]) / "release"
        while not release.exists():  # noqa: ASYNC110 - the signal comes from another process.
            await asyncio.sleep(0.01)
        return os.getpid()

    async def last() -> None:
        _record("last")

    await ctx.run_typed("first", first)
    pid = await ctx.run_typed("held", held)
    await ctx.run_typed("last", last)
    return f"{name} done by {pid}"


app = restate.app(services=[steps])
