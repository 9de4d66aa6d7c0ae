"""The Agents SDK by itself: the scale bench's measure of what ``agents.Runner.run`` costs without Restate.

``python -m bench.apps.scale_plain_sdk`` (with ``OPENAI_BASE_URL`` set to the bench's model server) imports the
SDK, prints ``ready`` and then reads commands on its standard input: ``run <turns> <in flight>`` runs that many
turns of the same agent as ``SdkSession`` (one ``function_tool``, the same client and run configuration), that
many at a time, in this process and without any durability, and answers one JSON line: ``seconds``, ``errors``,
``first_error`` and ``latencies_ms``. End of input stops it. The bench reads this process's CPU per turn: a
floor for a durable runner built on the SDK, since the same turn costs at least this much CPU there. Request
bodies take the same short way as in our durable model calls (``_request_body``: the openai client's request
transform is skipped where it would change nothing), so that the floor holds for our SDK path too.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from typing import Any

from agents import Agent, Runner, function_tool

from bench._common import AGENT_NAME, INSTRUCTIONS, QUESTION, get_weather
from bench.apps._shared import scripted_run_config
from resilient_agents.openai_agents._request_body import install as install_plain_requests
from resilient_agents.openai_agents._request_body import plain_requests

AGENT = Agent(name=AGENT_NAME, instructions=INSTRUCTIONS, tools=[function_tool(get_weather)])


async def run(turns: int, in_flight: int, run_config: Any) -> dict[str, Any]:
    """``turns`` turns, ``in_flight`` at a time; what the bench reports for them."""
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    pending = iter(range(turns))

    async def worker() -> None:
        nonlocal errors, first_error
        for _ in pending:
            started = time.perf_counter()
            try:
                with plain_requests():
                    result = await Runner.run(AGENT, QUESTION, run_config=run_config)
                ok = "temperature_c" in str(result.final_output)
                problem = None if ok else f"unexpected answer {str(result.final_output)[:200]!r}"
            except Exception as error:  # Every failure is counted and the first one shown.
                problem = repr(error)
            if problem is None:
                latencies.append((time.perf_counter() - started) * 1000.0)
            else:
                errors += 1
                first_error = first_error or problem

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(in_flight, turns))))
    return {
        "seconds": time.perf_counter() - started,
        "errors": errors,
        "first_error": first_error,
        "latencies_ms": latencies,
    }


async def serve() -> None:
    """Answer ``run`` commands from standard input until it closes."""
    # The garbage collector set up as ``resilient_agents.engine.serve`` sets it up for the services.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, *gc.get_threshold()[1:])
    run_config = scripted_run_config()  # One client and pool for the process, like the services.
    install_plain_requests()
    loop = asyncio.get_running_loop()
    print("ready", flush=True)
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        word, *numbers = line.split()
        if word != "run" or len(numbers) != 2:
            print(json.dumps({"error": f"unknown command {line.strip()!r}"}), flush=True)
            continue
        answer = await run(int(numbers[0]), int(numbers[1]), run_config)
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    asyncio.run(serve())
