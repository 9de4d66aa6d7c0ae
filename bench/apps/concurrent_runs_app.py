"""The durable service the concurrent-runs bench times: one handler that gathers several agent runs.

``Fanout/research`` takes a list of topics and runs :data:`researcher` once per topic with
``asyncio.gather(*(DurableRunner.run(...) ...))``, all in one invocation. Each run has an input guardrail
that asks the ``Guard`` agent through a nested ``DurableRunner.run`` (it runs beside the run's first model
call, the SDK's default) and one ``durable_tool``, ``lookup(topic)``, which answers at once. So one run is
3 journaled model calls and 1 tool step, and the gathered runs' durable actions interleave in one journal
(the shape of ``tests/apps/concurrent_runs.py``).

The agents talk to the model server at ``$OPENAI_BASE_URL`` (set by ``AgentTestEnv``) through an
``AsyncOpenAI`` client without client-side retries, on the Responses API, with tracing off.

Served by ``bench/concurrent_runs.py``; to serve it by hand::

    OPENAI_BASE_URL=http://127.0.0.1:8123/v1 python -m resilient_agents.engine.serve \\
        --app bench.apps.concurrent_runs_app:app --port 9080
"""

from __future__ import annotations

import asyncio
from typing import Any

import restate
from agents import Agent, GuardrailFunctionOutput, RunContextWrapper, input_guardrail

from bench._common import (
    GUARD_INSTRUCTIONS,
    GUARD_NAME,
    RESEARCHER_INSTRUCTIONS,
    RESEARCHER_NAME,
    topic_facts,
)
from bench.apps._shared import scripted_run_config
from resilient_agents.openai_agents import DurableRunner, durable_app, durable_tool

RUN_CONFIG = scripted_run_config()


@durable_tool
async def lookup(topic: str) -> str:
    """Look up facts about a topic.

    Args:
        topic: What to look up.
    """
    return topic_facts(topic)


guard = Agent(name=GUARD_NAME, instructions=GUARD_INSTRUCTIONS)


@input_guardrail
async def polite(ctx: RunContextWrapper[Any], agent: Agent[Any], message: Any) -> GuardrailFunctionOutput:
    """Ask the guard agent about the message (a nested durable run)."""
    verdict = await DurableRunner.run(guard, message, context=ctx.context, run_config=RUN_CONFIG)
    return GuardrailFunctionOutput(output_info=verdict.final_output, tripwire_triggered=False)


researcher = Agent(
    name=RESEARCHER_NAME, instructions=RESEARCHER_INSTRUCTIONS, tools=[lookup], input_guardrails=[polite]
)

fanout = restate.Service("Fanout", description="Gathers one researcher run per topic in one invocation.")


@fanout.handler()
async def research(ctx: restate.Context, topics: list[str]) -> list[str]:
    """Run the researcher once per topic, all at once; answer the runs' final outputs in topic order."""
    results = await asyncio.gather(*(DurableRunner.run(researcher, t, run_config=RUN_CONFIG) for t in topics))
    return [str(result.final_output) for result in results]


app = durable_app([fanout])
