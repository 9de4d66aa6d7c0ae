"""One handler that gathers several agent runs, each with an input guardrail (a nested run) and a tool.

The shape of the Agents SDK's ``agent_patterns/parallelization`` and ``input_guardrails`` examples: every
run's guardrail runs concurrently with its first model call (the SDK's default), the guardrail itself
asks a model through a nested ``DurableRunner.run``, and ``asyncio.gather`` runs all topics at once.
The tool leaves a marker file in ``$GATE_DIR`` per call, so tests count its side effects.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import restate
from agents import Agent, GuardrailFunctionOutput, RunConfig, RunContextWrapper, input_guardrail

from resilient_agents.config import ModelConfig
from resilient_agents.openai_agents import DurableRunner, durable_app, durable_tool


@durable_tool
async def lookup(topic: str) -> str:
    """Look up facts about a topic.

    Args:
        topic: What to look up.
    """
    (Path(os.environ["GATE_DIR"]) / f"lookup-{topic}-{time.monotonic_ns()}").touch()
    await asyncio.sleep(0.01)
    return f"facts about {topic}"


guard = Agent(name="Guard", instructions="Answer 'ok' unless the message is abusive.")


@input_guardrail
async def polite(ctx: RunContextWrapper[Any], agent: Agent[Any], message: Any) -> GuardrailFunctionOutput:
    verdict = await DurableRunner.run(guard, message, context=ctx.context, run_config=_run_config())
    return GuardrailFunctionOutput(output_info=verdict.final_output, tripwire_triggered=False)


researcher = Agent(
    name="Researcher", instructions="Use lookup, then answer.", tools=[lookup], input_guardrails=[polite]
)


def _run_config() -> RunConfig:
    return ModelConfig.from_env().run_config()


fanout = restate.Service("Fanout")


@fanout.handler()
async def research(ctx: restate.Context, topics: list[str]) -> list[str]:
    results = await asyncio.gather(*(DurableRunner.run(researcher, t, run_config=_run_config()) for t in topics))
    return [str(result.final_output) for result in results]


# Tests serve this next to another app on one engine: APP_NAMESPACE names its approvals object apart.
app = durable_app([fanout], namespace=os.environ.get("APP_NAMESPACE") or None)
