"""Parallel runs, then a picker (after the Agents SDK's examples/agent_patterns/parallelization.py)."""

import asyncio

from agents import Agent, ItemHelpers, Runner, trace

spanish_agent = Agent(name="spanish_agent", instructions="You translate the user's message to Spanish")

translation_picker = Agent(
    name="translation_picker",
    instructions="You pick the best Spanish translation from the given options.",
)


async def main() -> None:
    msg = "Good morning, how are you?"
    with trace("Parallel translation"):
        res_1, res_2, res_3 = await asyncio.gather(
            Runner.run(spanish_agent, msg),
            Runner.run(spanish_agent, msg + " (formal)"),
            Runner.run(spanish_agent, msg + " (casual)"),
        )
        outputs = [
            ItemHelpers.text_message_outputs(res_1.new_items),
            ItemHelpers.text_message_outputs(res_2.new_items),
            ItemHelpers.text_message_outputs(res_3.new_items),
        ]
        translations = "\n\n".join(outputs)
        print(f"\n\nTranslations:\n\n{translations}")
        best_translation = await Runner.run(translation_picker, f"Input: {msg}\n\nTranslations:\n{translations}")
    print(f"\n\nBest translation: {best_translation.final_output}")


if __name__ == "__main__":
    asyncio.run(main())
