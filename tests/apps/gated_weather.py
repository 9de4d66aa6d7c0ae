"""The weather agent with a gated, counted tool: crash tests kill the service while the tool runs.

The tool records each start and finish as a file in ``$GATE_DIR`` (side effects the test counts across
process kills), then waits until the test creates ``$GATE_DIR/release``.

Two services: ``Agent`` takes its model from the run's provider (configured from the environment) and
``ModelAgent`` is given its model as an ``agents.Model`` instance.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import timedelta
from pathlib import Path

from agents import Agent, OpenAIResponsesModel, RunConfig
from examples.weather.agent import weather_report
from openai import AsyncOpenAI

from resilient_agents.config import ModelConfig
from resilient_agents.openai_agents import (
    DurableSettings,
    RetrySettings,
    ServiceSettings,
    agent_service,
    durable_app,
    durable_tool,
)

INSTRUCTIONS = "You are a helpful agent that answers questions about the weather. Use the get_weather tool."


def _gate() -> Path:
    return Path(os.environ["GATE_DIR"])


@durable_tool
async def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name.
    """
    gate = _gate()
    (gate / f"started-{os.getpid()}-{time.monotonic_ns()}").touch()
    while not (gate / "release").exists():  # noqa: ASYNC110 - the signal comes from another process.
        await asyncio.sleep(0.01)
    (gate / f"finished-{os.getpid()}-{time.monotonic_ns()}").touch()
    return json.dumps(weather_report(city))


provider_agent = Agent(name="WeatherAgent", instructions=INSTRUCTIONS, tools=[get_weather])

instance_agent = Agent(
    name="WeatherAgent",
    instructions=INSTRUCTIONS,
    tools=[get_weather],
    model=OpenAIResponsesModel(
        model="scripted",
        openai_client=AsyncOpenAI(
            base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
            api_key=os.environ.get("OPENAI_API_KEY", "unused"),
            max_retries=0,
        ),
    ),
)

_config = ModelConfig.from_env() if os.environ.get("OPENAI_API_KEY") else None
_run_config = _config.run_config() if _config is not None else RunConfig(tracing_disabled=True)

# Tests shorten the model's outage window (default 10 minutes) through the environment.
_window = os.environ.get("OUTAGE_WINDOW_SECONDS")
_settings = (
    ServiceSettings(
        durable=DurableSettings(
            llm_retry=RetrySettings(max_attempts=None, max_duration=timedelta(seconds=float(_window)))
        )
    )
    if _window
    else None
)

app = durable_app(
    [
        agent_service(provider_agent, name="Agent", run_config=lambda: _run_config, settings=_settings),
        agent_service(instance_agent, name="ModelAgent", run_config=lambda: RunConfig(tracing_disabled=True)),
    ]
)
