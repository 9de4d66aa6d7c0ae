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

from agents import Agent
from restate.ext import openai as restate_openai

from bench._common import AGENT_NAME, INSTRUCTIONS, get_weather, weather_report
from bench.apps._shared import ext_runner_service, ours_service
from resilient_agents.openai_agents import durable_app, durable_tool

# -- Ours ------------------------------------------------------------------------------------------------------


_ours_agent = Agent(name=AGENT_NAME, instructions=INSTRUCTIONS, tools=[durable_tool(get_weather)])


# -- Restate's integration -------------------------------------------------------------------------------------


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


app = durable_app([ours_service(_ours_agent), ext_runner_service(_restate_agent)])
