"""Agents as tools (after the Agents SDK's examples/agent_patterns/agents_as_tools.py)."""

import asyncio

from agents import Agent, ItemHelpers, MessageOutputItem, Runner, trace

spanish_agent = Agent(name="spanish_agent", instructions="You translate the user's message to Spanish")
french_agent = Agent(name="french_agent", instructions="You translate the user's message to French")

orchestrator_agent = Agent(
    name="orchestrator_agent",
    instructions=(
        "You are a translation agent. You use the tools given to you to translate. "
        "If asked for multiple translations, you call the relevant tools in order."
    ),
    tools=[
        spanish_agent.as_tool(tool_name="translate_to_spanish", tool_description="Translate to Spanish"),
        french_agent.as_tool(tool_name="translate_to_french", tool_description="Translate to French"),
    ],
)

synthesizer_agent = Agent(
    name="synthesizer_agent",
    instructions="You inspect translations, correct them if needed, and produce a final concatenated response.",
)


async def main() -> None:
    msg = "Say 'Good morning' in Spanish and French."
    with trace("Orchestrator evaluator"):
        orchestrator_result = await Runner.run(orchestrator_agent, msg)
        for item in orchestrator_result.new_items:
            if isinstance(item, MessageOutputItem):
                text = ItemHelpers.text_message_output(item)
                if text:
                    print(f"  - Translation step: {text}")
        synthesizer_result = await Runner.run(synthesizer_agent, orchestrator_result.to_input_list())
    print(f"Final response:\n{synthesizer_result.final_output}")


if __name__ == "__main__":
    asyncio.run(main())
