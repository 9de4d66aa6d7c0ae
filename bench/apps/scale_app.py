"""The services the scale bench drives with many concurrent sessions, all against the same delayed model server.

* ``SdkSession/<key>/message``: :func:`resilient_agents.openai_agents.session_object` (the Agents SDK path)
  with one :func:`~resilient_agents.openai_agents.durable_tool`.
* ``LoopSession/<key>/message``: :func:`resilient_agents.loop.loop_session_object` (the native loop) with one
  :func:`~resilient_agents.loop.loop_tool`.
* ``Baseline/<key>/message``: a plain Restate Virtual Object, no agent code: the same two model calls as two
  ``ctx.run`` steps doing a raw ``httpx`` POST to ``/v1/responses``, a tool step, and the history stored once.
* ``Pid/<key>/pid``: answers ``os.getpid()`` of the worker that served it (the bench and the worker test use it).

Every model call goes to ``$OPENAI_BASE_URL`` over one pooled client per process (``BENCH_MODEL_MS`` is the
server's delay; the app does not need it). To serve it by hand::

    OPENAI_BASE_URL=http://127.0.0.1:8123/v1 python -m resilient_agents.engine.serve \\
        --app bench.apps.scale_app:app --port 9080
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import restate
from agents import Agent

from bench._common import AGENT_NAME, CITY, INSTRUCTIONS, MODEL_NAME, weather_report
from bench.apps._shared import scripted_client, scripted_run_config
from resilient_agents.loop import LoopAgent, LoopModelSettings, OpenAIResponsesClient, loop_session_object, loop_tool
from resilient_agents.openai_agents import durable_app, durable_tool, session_object

# -- the Agents SDK path ---------------------------------------------------------------------------------------


@durable_tool
async def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name.
    """
    return weather_report(city)


_run_config = scripted_run_config()
_sdk_session = session_object(
    Agent(name=AGENT_NAME, instructions=INSTRUCTIONS, tools=[get_weather]),
    name="SdkSession",
    run_config=lambda: _run_config,
)

# -- the native loop -------------------------------------------------------------------------------------------


@loop_tool(name="get_weather")
async def get_weather_loop(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name.
    """
    return weather_report(city)


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

# -- the baseline: plain Restate, no agent code ----------------------------------------------------------------

baseline = restate.VirtualObject("Baseline", description="Two raw HTTP model calls as ctx.run steps; no agent code.")
_http: list[httpx.AsyncClient] = []


def _client() -> httpx.AsyncClient:
    """One pooled client per process (made lazily: inside the serving event loop)."""
    if not _http:
        base = os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        _http.append(httpx.AsyncClient(base_url=base, timeout=60.0, headers={"authorization": "Bearer bench"}))
    return _http[0]


async def _model_call(items: list[dict[str, Any]]) -> dict[str, Any]:
    response = await _client().post("/responses", json={"model": MODEL_NAME, "input": items})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


@baseline.handler()
async def message(ctx: restate.ObjectContext, text: str) -> str:
    """One turn: model call (asks for the tool), tool step, model call (answers); history saved once."""
    history: list[dict[str, Any]] = await ctx.get("history") or []
    items: list[dict[str, Any]] = [*history, {"role": "user", "content": text}]
    first = await ctx.run_typed("llm #1", _model_call, items=items)
    call = next(item for item in first["output"] if item.get("type") == "function_call")

    async def tool() -> str:
        return weather_report(json.loads(call["arguments"]).get("city", CITY))

    output = await ctx.run_typed("tool: get_weather", tool)
    items += [
        {"type": "function_call", "call_id": call["call_id"], "name": call["name"], "arguments": call["arguments"]},
        {"type": "function_call_output", "call_id": call["call_id"], "output": output},
    ]
    second = await ctx.run_typed("llm #2", _model_call, items=items)
    answer = "".join(
        part.get("text", "")
        for item in second["output"]
        if item.get("type") == "message"
        for part in item.get("content", [])
    )
    items.append({"role": "assistant", "content": answer})
    ctx.set("history", items)
    return answer


# -- which process served ----------------------------------------------------------------------------------------

pid_object = restate.VirtualObject("Pid", description="Answers the serving worker's process id.")


@pid_object.handler()
async def pid(ctx: restate.ObjectContext) -> int:
    """The process id of the worker that ran this invocation (not journaled on purpose)."""
    return os.getpid()


app = durable_app([_sdk_session, _loop_session, baseline, pid_object])
