"""A handoff with an input filter (after the Agents SDK's examples/handoffs/message_filter.py)."""

import asyncio
import os
import uuid
from pathlib import Path

from agents import Agent, HandoffInputData, Runner, function_tool, handoff, trace
from agents.extensions import handoff_filters


def record(effect: str) -> None:
    """Leave a marker file per side effect, so a test can count how often the tool really ran."""
    Path(os.environ["MARKER_DIR"], f"{effect}-{uuid.uuid4().hex}").touch()


@function_tool
def random_number_tool(max: int) -> int:
    """Return a random integer between 0 and the given maximum."""
    record("random_number_tool")
    return max // 3  # Chosen by a fair dice roll.


def spanish_handoff_message_filter(handoff_message_data: HandoffInputData) -> HandoffInputData:
    # First, we'll remove any tool-related messages from the message history.
    handoff_message_data = handoff_filters.remove_all_tools(handoff_message_data)
    # Second, we'll also remove the first two items from the history, just for demonstration.
    history = (
        tuple(handoff_message_data.input_history[2:])
        if isinstance(handoff_message_data.input_history, tuple)
        else handoff_message_data.input_history
    )
    return HandoffInputData(
        input_history=history,
        pre_handoff_items=tuple(handoff_message_data.pre_handoff_items),
        new_items=tuple(handoff_message_data.new_items),
    )


first_agent = Agent(name="Assistant", instructions="Be extremely concise.", tools=[random_number_tool])

spanish_agent = Agent(
    name="Spanish Assistant",
    instructions="You only speak Spanish and are extremely concise.",
    handoff_description="A Spanish-speaking assistant.",
)

second_agent = Agent(
    name="Assistant",
    instructions="Be a helpful assistant. If the user speaks Spanish, handoff to the Spanish assistant.",
    handoffs=[handoff(spanish_agent, input_filter=spanish_handoff_message_filter)],
)


async def main() -> None:
    with trace(workflow_name="Message filtering"):
        # 1. Send a regular message to the first agent.
        result = await Runner.run(first_agent, input="Hi, my name is Sora.")
        print("Step 1 done")

        # 2. Ask it to generate a number.
        result = await Runner.run(
            first_agent,
            input=[
                *result.to_input_list(),
                {"content": "Can you generate a random number between 0 and 100?", "role": "user"},
            ],
        )
        print("Step 2 done")

        # 3. Call the second agent.
        result = await Runner.run(
            second_agent,
            input=[
                *result.to_input_list(),
                {"content": "I live in New York City. What's the population?", "role": "user"},
            ],
        )
        print("Step 3 done")

        # 4. Cause a handoff to occur.
        result = await Runner.run(
            second_agent,
            input=[
                *result.to_input_list(),
                {"content": "Por favor habla en español. ¿Cuál es mi nombre?", "role": "user"},
            ],
        )
        print("Step 4 done")

    print("\n===Final messages===\n")
    for message in result.to_input_list():
        print(message)


if __name__ == "__main__":
    asyncio.run(main())
