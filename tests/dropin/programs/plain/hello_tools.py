"""Hello world, then a tool (after the Agents SDK's examples/basic/hello_world.py and tools.py)."""

import asyncio
import os
import uuid
from pathlib import Path

from agents import Agent, Runner, function_tool


def record(effect: str) -> None:
    """Leave a marker file per side effect, so a test can count how often the tool really ran."""
    Path(os.environ["MARKER_DIR"], f"{effect}-{uuid.uuid4().hex}").touch()


@function_tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    record("get_weather")
    return f"The weather in {city} is sunny, 22 degrees."


async def main() -> None:
    poet = Agent(name="Assistant", instructions="You only respond in haikus.")
    result = await Runner.run(poet, "Tell me about recursion in programming.")
    print(result.final_output)

    weather_agent = Agent(name="Weather agent", instructions="You answer weather questions.", tools=[get_weather])
    result = await Runner.run(weather_agent, input="What's the weather in Tokyo?")
    print(result.final_output)


if __name__ == "__main__":
    asyncio.run(main())
