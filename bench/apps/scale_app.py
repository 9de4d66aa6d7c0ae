"""The services the scale bench drives with many concurrent sessions, all against the same delayed model server.

* ``SdkSession/<key>/message``: :func:`resilient_agents.openai_agents.session_object` (the Agents SDK path)
  with one :func:`~resilient_agents.openai_agents.durable_tool`.
* ``LoopSession/<key>/message``: :func:`resilient_agents.loop.loop_session_object` (the native loop) with one
  :func:`~resilient_agents.loop.loop_tool`.
* ``Pid/<key>/pid``: answers ``os.getpid()`` of the worker that served it (the bench uses it).

The plain-Restate baseline is served by processes of their own (``bench/apps/scale_baseline_app.py``), so that
it runs the Restate SDK without anything this library changes in the serving process.

Every model call goes to ``$OPENAI_BASE_URL`` over one pooled client per process (``BENCH_MODEL_MS`` is the
server's delay; the app does not need it). To serve it by hand::

    OPENAI_BASE_URL=http://127.0.0.1:8123/v1 python -m resilient_agents.engine.serve \\
        --app bench.apps.scale_app:app --port 9080
"""

from __future__ import annotations

import os

import restate
from agents import Agent

from bench._common import AGENT_NAME, INSTRUCTIONS, MODEL_NAME, get_weather
from bench.apps._shared import scripted_client, scripted_run_config
from resilient_agents.loop import LoopAgent, LoopModelSettings, OpenAIResponsesClient, loop_session_object, loop_tool
from resilient_agents.openai_agents import durable_app, durable_tool, session_object

# -- the Agents SDK path ---------------------------------------------------------------------------------------


get_weather_tool = durable_tool(get_weather)


_run_config = scripted_run_config()
_sdk_session = session_object(
    Agent(name=AGENT_NAME, instructions=INSTRUCTIONS, tools=[get_weather_tool]),
    name="SdkSession",
    run_config=lambda: _run_config,
)

# -- the native loop -------------------------------------------------------------------------------------------


get_weather_loop = loop_tool(name="get_weather")(get_weather)


_loop_session = loop_session_object(
    "LoopSession",
    [
        LoopAgent(
            name=AGENT_NAME,
            instructions=INSTRUCTIONS,
            tools=[get_weather_loop],
            model=LoopModelSettings(model=MODEL_NAME),
        )
    ],
    AGENT_NAME,
    lambda: OpenAIResponsesClient(client=scripted_client()),
)

# -- which process served ----------------------------------------------------------------------------------------

pid_object = restate.VirtualObject("Pid", description="Answers the serving worker's process id.")


@pid_object.handler()
async def pid(ctx: restate.ObjectContext) -> int:
    """The process id of the worker that ran this invocation (not journaled on purpose)."""
    return os.getpid()


app = durable_app([_sdk_session, _loop_session, pid_object])
