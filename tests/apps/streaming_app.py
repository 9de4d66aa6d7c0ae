"""A streaming agent for the durable-streaming tests: ``Agent/run`` runs each turn with ``run_streamed``.

The agent has one durable tool, ``get_weather``, which leaves a marker file in ``$GATE_DIR`` per real run.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from agents import Agent, RunConfig

from resilient_agents.config import ModelConfig
from resilient_agents.openai_agents import agent_service, durable_app, durable_tool


@durable_tool
async def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name.
    """
    (Path(os.environ["GATE_DIR"]) / f"weather-{time.monotonic_ns()}").touch()
    return json.dumps({"city": city, "temperature_c": 22, "conditions": "sunny"})


agent = Agent(name="StreamAgent", instructions="Answer weather questions with get_weather.", tools=[get_weather])

_config = ModelConfig.from_env() if os.environ.get("OPENAI_API_KEY") else None
_run_config = _config.run_config() if _config is not None else RunConfig(tracing_disabled=True)

app = durable_app([agent_service(agent, name="Agent", run_config=lambda: _run_config, stream=True)])
