"""Routing by handoffs (after the Agents SDK's examples/agent_patterns/routing.py, without streaming)."""

import asyncio

from resilient_agents.openai_agents.sdk import Agent, RunConfig, Runner, TResponseInputItem, trace

french_agent = Agent(name="french_agent", instructions="You only speak French")
spanish_agent = Agent(name="spanish_agent", instructions="You only speak Spanish")
english_agent = Agent(name="english_agent", instructions="You only speak English")

triage_agent = Agent(
    name="triage_agent",
    instructions="Handoff to the appropriate agent based on the language of the request.",
    handoffs=[french_agent, spanish_agent, english_agent],
)


async def main() -> None:
    agent = triage_agent
    inputs: list[TResponseInputItem] = [{"content": "Hola, ¿cómo estás?", "role": "user"}]
    with trace("Routing example"):
        for follow_up in ["¿Y qué tiempo hace?", None]:
            result = await Runner.run(agent, inputs, run_config=RunConfig(workflow_name="routing"))
            print(f"{result.last_agent.name}: {result.final_output}")
            if follow_up is None:
                break
            inputs = result.to_input_list()
            inputs.append({"content": follow_up, "role": "user"})
            agent = result.last_agent


if __name__ == "__main__":
    asyncio.run(main())
