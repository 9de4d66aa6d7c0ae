"""Streamed answers (``stream: true``) over real HTTP, read by the real openai client and the Agents SDK."""

from __future__ import annotations

import threading

import openai
import pytest
from agents import Agent, OpenAIChatCompletionsModel, OpenAIResponsesModel, Runner, function_tool
from openai import AsyncOpenAI
from openai.types.responses import ResponseTextDeltaEvent

from resilient_agents.models import ModelServer, Reply, ScriptedModel
from resilient_agents.models._stream import text_chunks

SECRET_KEY = "sk-test-secret-never-recorded"


def test_text_chunks_join_back_to_the_text() -> None:
    text = "  The weather in Detroit\nis 22°C  and sunny. "
    chunks = text_chunks(text)
    assert "".join(chunks) == text
    assert len(chunks) > 3


def test_responses_stream_sends_deltas_then_the_completed_response(
    server: ModelServer, scripted: ScriptedModel, client: openai.OpenAI
) -> None:
    scripted.push(Reply.say("It is sunny in Detroit."))

    events = list(client.responses.create(model="m", input="weather?", stream=True))

    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "It is sunny in Detroit."
    assert len(deltas) == 5
    assert events[0].type == "response.created"
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == "It is sunny in Detroit."
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert server.requests[0].body["stream"] is True


def test_responses_stream_carries_tool_calls(scripted: ScriptedModel, client: openai.OpenAI) -> None:
    scripted.push(Reply(text="Checking.", tool_calls=Reply.call("get_weather", city="Detroit").tool_calls))

    events = list(client.responses.create(model="m", input="weather?", stream=True))

    completed = events[-1]
    assert completed.type == "response.completed"
    call = completed.response.output[1]
    assert call.type == "function_call" and call.name == "get_weather" and call.arguments == '{"city": "Detroit"}'
    assert any(e.type == "response.function_call_arguments.done" for e in events)


def test_chat_stream_sends_content_deltas_and_done(scripted: ScriptedModel, client: openai.OpenAI) -> None:
    scripted.push(Reply.say("Hello there, traveller."))

    chunks = list(
        client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello there, traveller."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_hold_pauses_the_stream_after_the_first_delta(scripted: ScriptedModel, client: openai.OpenAI) -> None:
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        held.set()
        release.wait(timeout=30)

    scripted.push(Reply(text="one two three", hold=hold))
    stream = client.responses.create(model="m", input="count", stream=True)
    seen: list[str] = []
    for event in stream:
        if event.type == "response.output_text.delta":
            seen.append(event.delta)
            break
    assert seen == ["one "]
    assert held.wait(timeout=30)
    release.set()
    rest = [e.delta for e in stream if e.type == "response.output_text.delta"]
    assert rest == ["two ", "three"]


@pytest.mark.parametrize("api", ["responses", "chat"])
async def test_agents_sdk_streams_a_tool_turn(server: ModelServer, scripted: ScriptedModel, api: str) -> None:
    @function_tool
    def get_weather(city: str) -> str:
        """Get the weather.

        Args:
            city: The city.
        """
        return f"22C in {city}"

    scripted.push(Reply.call("get_weather", city="Detroit"), Reply.say("It is 22C in Detroit."))
    client = AsyncOpenAI(base_url=server.base_url, api_key=SECRET_KEY, max_retries=0)
    model = (
        OpenAIResponsesModel(model="m", openai_client=client)
        if api == "responses"
        else OpenAIChatCompletionsModel(model="m", openai_client=client)
    )
    agent = Agent(name="Weather", instructions="Use the tool.", tools=[get_weather], model=model)

    result = Runner.run_streamed(agent, "Weather in Detroit?")
    deltas = [
        event.data.delta
        async for event in result.stream_events()
        if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent)
    ]

    assert result.final_output == "It is 22C in Detroit."
    assert "".join(deltas) == "It is 22C in Detroit."
    assert "22C in Detroit" in str(scripted.received[1].trailing_tool_outputs()[-1].text)
    await client.close()
