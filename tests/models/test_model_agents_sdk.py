"""The OpenAI Agents SDK end to end against the server, with both of its OpenAI model classes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from agents import Agent, Model, ModelBehaviorError, Runner, function_tool, set_tracing_disabled
from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
from agents.models.openai_responses import OpenAIResponsesModel
from agents.tool import FunctionTool
from openai import AsyncOpenAI, InternalServerError

from resilient_agents.models import DEMO_MODEL_NAME, Fault, ModelServer, Reply, ScriptedModel

set_tracing_disabled(True)

ModelFactory = Callable[[AsyncOpenAI], Model]
MODEL_FACTORIES: dict[str, ModelFactory] = {
    "responses": lambda client: OpenAIResponsesModel(model=DEMO_MODEL_NAME, openai_client=client),
    "chat": lambda client: OpenAIChatCompletionsModel(model=DEMO_MODEL_NAME, openai_client=client),
}


def _weather_tool(result: str) -> FunctionTool:
    @function_tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        return result.replace("{city}", city)

    return get_weather


@function_tool
def update_seat(confirmation_number: str, new_seat: str) -> str:
    """Update the seat for a flight booking."""
    return f"Seat for booking {confirmation_number} changed to {new_seat}."


@asynccontextmanager
async def _agent(server: ModelServer, api: str, tools: list[FunctionTool]) -> AsyncIterator[Agent[None]]:
    async with AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
        model = MODEL_FACTORIES[api](client)
        yield Agent(name="helper", instructions="You are a helpful agent.", tools=list(tools), model=model)


@pytest.mark.asyncio
@pytest.mark.parametrize("api", sorted(MODEL_FACTORIES))
@pytest.mark.parametrize(
    "tool_output",
    [
        json.dumps({"temperature": 22, "unit": "C", "conditions": "sunny", "city": "{city}"}),
        "The weather in {city} is 22°C and sunny",
    ],
)
async def test_demo_model_answers_weather_question(demo_server: ModelServer, api: str, tool_output: str) -> None:
    async with _agent(demo_server, api, [_weather_tool(tool_output)]) as agent:
        result = await Runner.run(agent, "What is the weather in Detroit?")

    answer = str(result.final_output)
    assert "Detroit" in answer
    assert "22" in answer
    first_request = demo_server.requests[0].body
    assert first_request["model"] == DEMO_MODEL_NAME
    tool_call_request = demo_server.requests[1].body
    assert "Detroit" in json.dumps(tool_call_request)
    assert result.context_wrapper.usage.requests == 2
    assert result.context_wrapper.usage.total_tokens > 0


@pytest.mark.asyncio
@pytest.mark.parametrize("api", sorted(MODEL_FACTORIES))
async def test_demo_model_asks_for_missing_argument_across_turns(demo_server: ModelServer, api: str) -> None:
    async with _agent(demo_server, api, [update_seat]) as agent:
        first = await Runner.run(agent, "can you change my seat to 10b?")
        assert "Which confirmation number?" in str(first.final_output)

        second = await Runner.run(agent, [*first.to_input_list(), {"role": "user", "content": "5666"}])

    assert str(second.final_output) == "Seat for booking 5666 changed to 10b."


@pytest.mark.asyncio
@pytest.mark.parametrize("api", sorted(MODEL_FACTORIES))
async def test_scripted_model_drives_the_agent_loop(server: ModelServer, scripted: ScriptedModel, api: str) -> None:
    scripted.push(Reply.call("get_weather", city="Oslo"), lambda request: Reply.say(request.messages[-1].text))
    async with _agent(server, api, [_weather_tool("cold in {city}")]) as agent:
        result = await Runner.run(agent, "weather?")

    assert result.final_output == "cold in Oslo"
    last = scripted.received[-1]
    assert last.messages[-1].role == "tool"
    assert last.messages[-1].tool_name == "get_weather"
    assert last.instructions == "You are a helpful agent."
    assert [tool.name for tool in last.tools] == ["get_weather"]


@pytest.mark.asyncio
async def test_agent_surfaces_server_faults(server: ModelServer, scripted: ScriptedModel) -> None:
    scripted.push(Fault.server_error(503))
    async with _agent(server, "responses", []) as agent:
        with pytest.raises(InternalServerError) as caught:
            await Runner.run(agent, "hi")

    assert caught.value.status_code == 503


@pytest.mark.asyncio
async def test_agent_rejects_call_to_unknown_tool(server: ModelServer, scripted: ScriptedModel) -> None:
    scripted.push(Reply.call("no_such_tool"))
    async with _agent(server, "chat", []) as agent:
        with pytest.raises(ModelBehaviorError, match="no_such_tool"):
            await Runner.run(agent, "hi")
