"""A support conversation as a Virtual Object built by ``session_object``, for the session tests.

``Triage`` answers first; it can look things up (``quick_lookup``), run a slow lookup that waits for the
test (``slow_lookup``, journaled, and ``slow_plain_lookup``, not: each writes ``$GATE_DIR/started-<topic>-<pid>``
and waits for ``$GATE_DIR/release-<topic>``), ask a supervisor (``ask_supervisor``: an awakeable whose id it
writes to ``$GATE_DIR/awakeable``), and hand off to ``FAQ``, which can hand back.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import restate
from agents import Agent, RunConfig, function_tool

from resilient_agents.config import ModelConfig
from resilient_agents.openai_agents import durable_context, durable_tool, session_object

TRIAGE_INSTRUCTIONS = "You are the triage agent of an airline. Hand FAQ questions to the FAQ agent."
FAQ_INSTRUCTIONS = "You are the FAQ agent of an airline: baggage, seats, wifi."


@function_tool
def quick_lookup(topic: str) -> str:
    """Look a topic up in the knowledge base.

    Args:
        topic: What to look up.
    """
    return f"notes about {topic}"


async def _wait_for_release(topic: str) -> str:
    gate = Path(os.environ["GATE_DIR"])
    (gate / f"started-{topic}-{os.getpid()}").touch()
    while not (gate / f"release-{topic}").exists():  # noqa: ASYNC110 - the signal comes from another process.
        await asyncio.sleep(0.01)
    return f"archive entry about {topic}"


@durable_tool
async def slow_lookup(topic: str) -> str:
    """Look a topic up in the slow archive.

    Args:
        topic: What to look up.
    """
    return await _wait_for_release(topic)


@function_tool
async def slow_plain_lookup(topic: str) -> str:
    """Look a topic up in the slow paper archive (a plain, unjournaled tool).

    Args:
        topic: What to look up.
    """
    return await _wait_for_release(topic)


@function_tool
async def ask_supervisor(question: str) -> str:
    """Ask a human supervisor and wait for the answer (the turn suspends until then).

    Args:
        question: What to ask.
    """
    awakeable_id, answer = durable_context().awakeable(type_hint=str)
    (Path(os.environ["GATE_DIR"]) / "awakeable").write_text(awakeable_id)
    return f"supervisor says: {await answer}"


faq_agent = Agent(name="FAQ", instructions=FAQ_INSTRUCTIONS, tools=[quick_lookup])
triage_agent = Agent(
    name="Triage",
    instructions=TRIAGE_INSTRUCTIONS,
    tools=[quick_lookup, slow_lookup, slow_plain_lookup, ask_supervisor],
    handoffs=[faq_agent],
)
faq_agent.handoffs = [triage_agent]

_config = ModelConfig.from_env() if os.environ.get("OPENAI_API_KEY") else None
_run_config = _config.run_config() if _config is not None else RunConfig(tracing_disabled=True)

app = restate.app(services=[session_object(triage_agent, name="Support", run_config=lambda: _run_config)])
