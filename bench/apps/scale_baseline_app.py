"""The scale bench's baseline: a plain Restate Virtual Object, served by a process of its own.

``Baseline/<key>/message`` does what one agent turn does without any agent code: the two model calls as two
``ctx.run`` steps doing a raw ``httpx`` POST to ``$OPENAI_BASE_URL/responses``, a tool step, and the history
stored once. This module imports nothing from ``resilient_agents``: the ``serve`` process that loads it runs
the Restate SDK as it ships (no progress driver), so the baseline is what a user of plain Restate gets.
To serve it by hand::

    OPENAI_BASE_URL=http://127.0.0.1:8123/v1 python -m resilient_agents.engine.serve \\
        --app bench.apps.scale_baseline_app:app --port 9081
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import restate
from restate.server_context import ServerInvocationContext

from bench._common import CITY, MODEL_NAME, weather_report

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


@baseline.handler()
async def patched(ctx: restate.ObjectContext) -> bool:
    """Whether anything replaced the SDK's progress loop in this process (the bench checks it is ``False``)."""
    return bool(ServerInvocationContext.create_poll_or_cancel_coroutine.__module__ != "restate.server_context")


app = restate.app([baseline])
