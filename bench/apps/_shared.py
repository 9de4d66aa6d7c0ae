"""How both bench apps serve an agent: ours (``Ours/run``) and Restate's integration (``ExtRunner/run``).

Both talk to the model server at ``$OPENAI_BASE_URL`` (set by ``AgentTestEnv``) through an ``AsyncOpenAI``
client without client-side retries, on the Responses API, with tracing off.
"""

from __future__ import annotations

import os
from typing import Any

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

from bench._common import EXT_SERVICE, MODEL_NAME
from resilient_agents.openai_agents import agent_service


def scripted_client() -> AsyncOpenAI:
    """A client for the bench's scripted model server."""
    return AsyncOpenAI(
        base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"), api_key="bench", max_retries=0
    )


def scripted_run_config() -> RunConfig:
    """A run configuration for the scripted model: Responses API, no client-side retries, tracing off."""
    return RunConfig(
        model=MODEL_NAME,
        model_provider=OpenAIProvider(openai_client=scripted_client(), use_responses=True),
        tracing_disabled=True,
    )


def ours_service(agent: Agent[Any]) -> restate.Service:
    """``Ours/run``: our ``agent_service`` with the scripted model."""
    run_config = scripted_run_config()
    return agent_service(agent, name="Ours", run_config=lambda: run_config)


def ext_runner_service(agent: Agent[Any]) -> restate.Service:
    """``ExtRunner/run``: the same agent on ``restate.ext.openai.DurableRunner``.

    Restate's runner replaces ``RunConfig.model_provider`` with its own ``MultiProvider``, built from the SDK's
    defaults, so the same kind of client is installed as the SDK's default. Restate reserves service names
    starting with "restate", hence not "RestateExt".
    """
    set_default_openai_client(scripted_client(), use_for_tracing=False)
    set_default_openai_api("responses")
    set_tracing_disabled(True)
    service = restate.Service(EXT_SERVICE, description="The same agent on restate.ext.openai.DurableRunner.")

    @service.handler(name="run")
    async def run(ctx: restate.Context, message: str) -> str:
        run_config = RunConfig(model=MODEL_NAME, tracing_disabled=True)
        result = await restate_openai.DurableRunner.run(agent, message, run_config=run_config)
        return str(result.final_output)

    return service
