"""The two durable services the turn-overhead bench compares, with the same agent and the same scripted model.

* ``Ours/run``: :func:`resilient_agents.openai_agents.agent_service` (our ``DurableRunner``); the tool is a
  :func:`~resilient_agents.openai_agents.durable_tool`, journaled as one step ``tool: get_weather``.
* ``ExtRunner/run``: Restate's own ``restate.ext.openai.DurableRunner``. Its ``durable_function_tool`` only
  adds Restate-aware error handling and runs tools one at a time; it journals nothing by itself. Restate's
  idiomatic way to make a tool durable is a ``ctx.run_typed`` inside it, so the tool body runs as one journaled
  step ``get_weather`` there: each integration journals the tool exactly once.

Both agents talk to the model server at ``$OPENAI_BASE_URL`` (set by ``AgentTestEnv``) through an
``AsyncOpenAI`` client without client-side retries, on the Responses API, with tracing off.

Served by ``bench/turn_overhead.py``; to serve it by hand::

    OPENAI_BASE_URL=http://127.0.0.1:8123/v1 python -m resilient_agents.engine.serve \\
        --app bench.apps.turn_overhead_app:app --port 9080
"""

from __future__ import annotations

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

from bench._common import AGENT_NAME, INSTRUCTIONS, MODEL_NAME, weather_report
from resilient_agents.openai_agents import agent_service, durable_app, durable_tool


def _client() -> AsyncOpenAI:
    return AsyncOpenAI(
        base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"), api_key="bench", max_retries=0
    )


# -- Ours ------------------------------------------------------------------------------------------------------


@durable_tool
async def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name.
    """
    return weather_report(city)


_ours_agent = Agent(name=AGENT_NAME, instructions=INSTRUCTIONS, tools=[get_weather])
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


async def _weather_step(city: str) -> str:
    return weather_report(city)


@restate_openai.durable_function_tool(name_override="get_weather")
async def get_weather_restate(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name.
    """
    return await restate_openai.restate_context().run_typed("get_weather", _weather_step, city=city)


_restate_agent = Agent(name=AGENT_NAME, instructions=INSTRUCTIONS, tools=[get_weather_restate])

# Restate reserves service names starting with "restate", hence not "RestateExt".
restate_ext = restate.Service("ExtRunner", description="The same agent on restate.ext.openai.DurableRunner.")


@restate_ext.handler(name="run")
async def restate_ext_run(ctx: restate.Context, message: str) -> str:
    """Run one turn with Restate's own integration."""
    run_config = RunConfig(model=MODEL_NAME, tracing_disabled=True)
    result = await restate_openai.DurableRunner.run(_restate_agent, message, run_config=run_config)
    return str(result.final_output)


app = durable_app([ours, restate_ext])
