"""The two durable services the parallel-tools bench compares, with the same agent and the same scripted model.

The agent has one tool, ``slow_lookup(index)``, that takes ``$BENCH_TOOL_MS`` milliseconds (``asyncio.sleep``,
default 200) and returns :func:`bench._common.lookup_result`.

* ``Ours/run``: :func:`resilient_agents.openai_agents.agent_service` (our ``DurableRunner``); the tool is a
  :func:`~resilient_agents.openai_agents.durable_tool`. Every call is one journaled step of the turn
  (``tool: slow_lookup``, ``tool: slow_lookup #2``, ...); the calls of one response run concurrently.
* ``ExtRunner/run``: Restate's own ``restate.ext.openai.DurableRunner``. The tool is a
  ``durable_function_tool`` whose body runs inside ``restate_context().run_typed("slow_lookup", ...)``, Restate's
  idiomatic way to journal a tool; the integration lets the tool calls of one response run one at a time.

Both agents talk to the model server at ``$OPENAI_BASE_URL`` (set by ``AgentTestEnv``) through an
``AsyncOpenAI`` client without client-side retries, on the Responses API, with tracing off.

Served by ``bench/parallel_tools.py``; to serve it by hand::

    OPENAI_BASE_URL=http://127.0.0.1:8123/v1 BENCH_TOOL_MS=200 python -m resilient_agents.engine.serve \\
        --app bench.apps.parallel_tools_app:app --port 9080
"""

from __future__ import annotations

import asyncio

from agents import Agent
from restate.ext import openai as restate_openai

from bench._common import (
    PARALLEL_AGENT_NAME,
    PARALLEL_INSTRUCTIONS,
    lookup_result,
    tool_seconds_from_env,
)
from bench.apps._shared import ext_runner_service, ours_service
from resilient_agents.openai_agents import durable_app, durable_tool

TOOL_SECONDS = tool_seconds_from_env()


async def _lookup(index: int) -> str:
    await asyncio.sleep(TOOL_SECONDS)
    return lookup_result(index)


# -- Ours ------------------------------------------------------------------------------------------------------


@durable_tool
async def slow_lookup(index: int) -> str:
    """Look up one item (slow).

    Args:
        index: Which item.
    """
    return await _lookup(index)


_ours_agent = Agent(name=PARALLEL_AGENT_NAME, instructions=PARALLEL_INSTRUCTIONS, tools=[slow_lookup])


# -- Restate's integration -------------------------------------------------------------------------------------


@restate_openai.durable_function_tool(name_override="slow_lookup")
async def slow_lookup_restate(index: int) -> str:
    """Look up one item (slow).

    Args:
        index: Which item.
    """
    return await restate_openai.restate_context().run_typed("slow_lookup", _lookup, index=index)


_restate_agent = Agent(name=PARALLEL_AGENT_NAME, instructions=PARALLEL_INSTRUCTIONS, tools=[slow_lookup_restate])


app = durable_app([ours_service(_ours_agent), ext_runner_service(_restate_agent)])
