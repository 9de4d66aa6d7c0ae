"""A program that makes itself durable: ``python run_durably_main.py`` runs main() as one durable invocation."""

import sys

import resilient_agents
from resilient_agents.openai_agents.sdk import Agent, Runner


async def main() -> dict[str, str]:
    agent = Agent(name="Assistant", instructions="You only respond in haikus.")
    result = await Runner.run(agent, "Tell me about recursion in programming.")
    if "fail" in sys.argv:
        raise ValueError("asked to fail")
    return {"answer": result.final_output}


if __name__ == "__main__":
    print(resilient_agents.run_durably(main))
