"""The two durable services the parallel-tools bench compares, with the same agent and the same scripted model.

The agent has one tool, ``slow_lookup(index)``, that takes ``$BENCH_TOOL_MS`` milliseconds (``asyncio.sleep``,
default 200) and returns :func:`bench._common.lookup_result`.

* ``Ours/run``: :func:`resilient_agents.openai_agents.agent_service` (our ``DurableRunner``); the tool is a
  :func:`~resilient_agents.openai_agents.durable_tool`. Alone in its model response it is one journaled step
  ``tool: slow_lookup`` of the turn; when the response holds several calls, each call is its own invocation
  ``DurableTools/<key>/call`` (its body again one step ``tool: slow_lookup``) and the calls run concurrently.
  That needs the ``DurableTools`` object, hence ``durable_app``.
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
import os

import restate
from agents import (
    Agent,
    OpenAIProvider,
    RunConfig,
    set_default_openai_api,
    set_default_openai_client,
    set_tracing_disabled,
)
from openai import AsyncOpenAI
from restate.ext import openai as restate_openai

from bench._common import (
    MODEL_NAME,
    PARALLEL_AGENT_NAME,
    PARALLEL_INSTRUCTIONS,
    lookup_result,
    tool_seconds_from_env,
)
from resilient_agents.openai_agents import agent_service, durable_app, durable_tool

TOOL_SECONDS = tool_seconds_from_env()


def _client() -> AsyncOpenAI:
    return AsyncOpenAI(
        base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"), api_key="bench", max_retries=0
    )


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
_ours_provider = OpenAIProvider(openai_client=_client(), use_responses=True)


def _ours_run_config() -> RunConfig:
    return RunConfig(model=MODEL_NAME, model_provider=_ours_provider, tracing_disabled=True)


ours = agent_service(_ours_agent, name="Ours", run_config=_ours_run_config)


# -- Restate's integration -------------------------------------------------------------------------------------

# restate.ext.openai.DurableRunner replaces RunConfig.model_provider with its own MultiProvider, which builds
# its OpenAIProvider from the SDK's defaults; so the same kind of client is installed as the default here.
set_default_openai_client(_client(), use_for_tracing=False)
set_default_openai_api("responses")
set_tracing_disabled(True)


@restate_openai.durable_function_tool(name_override="slow_lookup")
async def slow_lookup_restate(index: int) -> str:
    """Look up one item (slow).

    Args:
        index: Which item.
    """
    return await restate_openai.restate_context().run_typed("slow_lookup", _lookup, index=index)


_restate_agent = Agent(name=PARALLEL_AGENT_NAME, instructions=PARALLEL_INSTRUCTIONS, tools=[slow_lookup_restate])

# Restate reserves service names starting with "restate", hence not "RestateExt".
restate_ext = restate.Service("ExtRunner", description="The same agent on restate.ext.openai.DurableRunner.")


@restate_ext.handler(name="run")
async def restate_ext_run(ctx: restate.Context, message: str) -> str:
    """Run one turn with Restate's own integration."""
    run_config = RunConfig(model=MODEL_NAME, tracing_disabled=True)
    result = await restate_openai.DurableRunner.run(_restate_agent, message, run_config=run_config)
    return str(result.final_output)


app = durable_app([ours, restate_ext])
