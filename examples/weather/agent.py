"""A durable weather agent: one Restate Service ``Agent`` with a ``run`` handler and a ``get_weather`` tool.

Run it (offline demo model unless ``OPENAI_API_KEY`` is set)::

    resilient-agents up --app weather
    curl localhost:8080/Agent/run --json '"What is the weather in Detroit?"'

Every model call is a journaled step (``llm: WeatherAgent #1``, ``#2``) and the tool result is one too
(``tool: get_weather``): kill the service while the tool runs and the turn resumes at the tool, without
asking the model again.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os

from agents import Agent, RunConfig

from resilient_agents.config import ModelConfig
from resilient_agents.openai_agents import agent_service, durable_app, durable_tool

# Made-up readings: the example must work offline. Unknown cities get a stable reading derived from the name.
_READINGS: dict[str, tuple[int, str]] = {
    "detroit": (22, "sunny"),
    "berlin": (17, "cloudy"),
    "london": (14, "light rain"),
    "tokyo": (26, "humid and clear"),
    "san francisco": (16, "foggy"),
}
_CONDITIONS = ("sunny", "cloudy", "windy", "light rain", "clear")


def weather_report(city: str) -> dict[str, object]:
    """Return the (made-up) current weather for ``city``."""
    name = " ".join(city.split()).strip(" ?.!,")
    temperature, conditions = _READINGS.get(name.lower(), _derived_reading(name))
    return {"city": name.title(), "temperature_c": temperature, "conditions": conditions}


def _derived_reading(name: str) -> tuple[int, str]:
    code = sum(name.lower().encode())
    return 5 + code % 25, _CONDITIONS[code % len(_CONDITIONS)]


@durable_tool
async def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name, e.g. "Detroit".
    """
    # Stands in for a slow weather API (1 s by default) so that you can kill the service mid-call and
    # watch the turn resume; WEATHER_API_DELAY=0 makes it instant.
    await asyncio.sleep(float(os.environ.get("WEATHER_API_DELAY", "1.0")))
    return json.dumps(weather_report(city))


weather_agent = Agent(
    name="WeatherAgent",
    instructions="You are a helpful agent that answers questions about the weather. Use the get_weather tool.",
    tools=[get_weather],
)


@functools.cache
def _model_config() -> ModelConfig:
    return ModelConfig.from_env()


@functools.cache
def run_config() -> RunConfig:
    """The run configuration of every turn (built once): the model backend from the environment."""
    return _model_config().run_config()


# stream=True: `resilient-agents chat --stream` prints the answer as the model writes it.
service = agent_service(weather_agent, name="Agent", run_config=run_config, stream=True)
app = durable_app([service])
