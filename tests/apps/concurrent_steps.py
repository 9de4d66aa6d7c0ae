"""Several asyncio tasks of one handler awaiting durable steps, sleeps and calls at once.

``Fanout/run`` starts ``n`` tasks; task ``i`` runs three journaled steps whose durations differ per task
(so the steps finish in an order different from the order they were issued), then returns. It is plain
Restate code (no agents), the shape of ``asyncio.gather`` over several agent runs.
"""

from __future__ import annotations

import asyncio
import os

import restate

from resilient_agents import enable_concurrent_durable_awaits

if os.environ.get("CONCURRENT_FIX", "on") == "on":
    enable_concurrent_durable_awaits()

fanout = restate.Service("Fanout")
_STEP_MS = int(os.environ.get("STEP_MS", "20"))


async def _worker(ctx: restate.Context, index: int, n: int) -> list[str]:
    done: list[str] = []
    for step in range(3):
        # Later tasks finish their first step first; earlier ones their second step first.
        delay = ((n - index) if step % 2 == 0 else (index + 1)) * _STEP_MS / 1000

        async def work(delay: float = delay, step: int = step) -> str:
            await asyncio.sleep(delay)
            return f"{index}.{step}"

        done.append(await ctx.run_typed(f"task {index} step {step}", work))
    return done


@fanout.handler()
async def run(ctx: restate.Context, n: int) -> list[list[str]]:
    return list(await asyncio.gather(*(_worker(ctx, i, n) for i in range(n))))


app = restate.app([fanout])
