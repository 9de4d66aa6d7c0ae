"""An agent whose tool naps durably (``ctx.sleep``) for the sleep-span test; the nap's length is the argument."""

from __future__ import annotations

import functools
from datetime import timedelta

from agents import Agent, RunConfig

from resilient_agents.config import ModelConfig
from resilient_agents.openai_agents import agent_service, durable_app, durable_context, durable_tool


@durable_tool(durable_actions=True)
async def nap(seconds: float) -> str:
    """Sleep durably.

    Args:
        seconds: How long.
    """
    await durable_context().sleep(timedelta(seconds=seconds), name="nap")
    return "rested"


@functools.cache
def run_config() -> RunConfig:
    """The model backend from the environment."""
    return ModelConfig.from_env().run_config()


sleeper = Agent(name="Sleeper", instructions="Nap when asked.", tools=[nap])
app = durable_app([agent_service(sleeper, name="Sleeper", run_config=run_config)])
