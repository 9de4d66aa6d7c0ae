"""A native-loop app for the bad-input catalogue (``tests/integration/test_bad_inputs.py``).

``Poison`` (a session object) starts at the ``clerk`` agent, whose tools take numbers, schedule reminders to
the session itself, raise a bug, or hang past their timeout; ``clerk`` can hand over to ``helper``.
``PoisonStrict`` fails a turn terminally after 3 model calls, ``PoisonGuarded`` ends it with a final message;
``PoisonAgent`` is the same agent as a stateless service. The model client speaks the Responses API to the
scripted model server at ``$OPENAI_BASE_URL``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from datetime import timedelta

import restate

from resilient_agents.loop import (
    LoopAgent,
    LoopModelSettings,
    LoopSettings,
    OpenAIResponsesClient,
    StepRetry,
    delayed_send_tool,
    loop_agent_service,
    loop_session_object,
    loop_tool,
)

MODEL = LoopModelSettings(model="scripted")


def make_client() -> OpenAIResponsesClient:
    """The model client, pointed at the scripted model server."""
    return OpenAIResponsesClient(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])


@loop_tool
def lookup(item: str) -> str:
    """Look something up.

    Args:
        item: What to look up.
    """
    return f"{item}: in stock"


@loop_tool
def double(amount: float, times: int = 1) -> str:
    """Double an amount, ``times`` times.

    Args:
        amount: The amount.
        times: How often.
    """
    return str(round(amount * 2**times))  # round() of an infinite float raises OverflowError.


@loop_tool
def broken(item: str) -> str:
    """A tool with a bug: it always raises TypeError.

    Args:
        item: Anything.
    """
    return item + 1  # type: ignore[operator, no-any-return]  # The bug on purpose.


@loop_tool(timeout=timedelta(milliseconds=50), retry=StepRetry(max_attempts=2, initial_interval=timedelta(0)))
async def hangs(item: str) -> str:
    """A tool whose backend never answers.

    Args:
        item: Anything.
    """
    await asyncio.Event().wait()
    return item


remind_me = delayed_send_tool("remind_me", "Poison", "remind", description="Remind the customer later.")

clerk = LoopAgent(
    name="clerk",
    instructions="Help the customer.",
    tools=[lookup, double, broken, hangs, remind_me],
    handoffs=["helper"],
    model=MODEL,
)
helper = LoopAgent(name="helper", instructions="Help further.", tools=[lookup], handoffs=["clerk"], model=MODEL)
AGENTS = [clerk, helper]

app = restate.app(
    services=[
        loop_session_object("Poison", AGENTS, "clerk", make_client),
        loop_session_object("PoisonStrict", AGENTS, "clerk", make_client, settings=LoopSettings(max_turns=3)),
        loop_session_object(
            "PoisonGuarded",
            AGENTS,
            "clerk",
            make_client,
            settings=LoopSettings(max_turns=3, on_max_turns="final_message"),
        ),
        loop_agent_service(
            "PoisonAgent",
            [dataclasses.replace(clerk, tools=[lookup, double, broken], handoffs=())],
            "clerk",
            make_client,
        ),
    ]
)
