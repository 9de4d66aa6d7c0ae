"""An input guardrail run by its own agent (after the Agents SDK's examples/agent_patterns/input_guardrails.py)."""

import asyncio

from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    RunContextWrapper,
    Runner,
    TResponseInputItem,
    input_guardrail,
)
from pydantic import BaseModel


class MathHomeworkOutput(BaseModel):
    reasoning: str
    is_math_homework: bool


guardrail_agent = Agent(
    name="Guardrail check",
    instructions="Check if the user is asking you to do their math homework.",
    output_type=MathHomeworkOutput,
)


@input_guardrail(run_in_parallel=False)
async def math_guardrail(
    context: RunContextWrapper[None], agent: Agent, input: str | list[TResponseInputItem]
) -> GuardrailFunctionOutput:
    """This is an input guardrail function, which happens to call an agent to check if the input is a math
    homework question."""
    result = await Runner.run(guardrail_agent, input, context=context.context)
    final_output = result.final_output_as(MathHomeworkOutput)
    return GuardrailFunctionOutput(output_info=final_output, tripwire_triggered=final_output.is_math_homework)


async def main() -> None:
    agent = Agent(
        name="Customer support agent",
        instructions="You are a customer support agent. You help customers with their questions.",
        input_guardrails=[math_guardrail],
    )
    input_data: list[TResponseInputItem] = []
    for user_input in ["What's the capital of California?", "Can you help me solve for x: 2x + 5 = 11?"]:
        input_data.append({"role": "user", "content": user_input})
        try:
            result = await Runner.run(agent, input_data)
            print(result.final_output)
            input_data = result.to_input_list()
        except InputGuardrailTripwireTriggered:
            message = "Sorry, I can't help you with your math homework."
            print(message)
            input_data.append({"role": "assistant", "content": message})


if __name__ == "__main__":
    asyncio.run(main())
