"""An Agents SDK app for the bad-input catalogue (``tests/integration/test_bad_inputs.py``).

The same ``Clerk`` agent is served as ``ClerkService`` (``agent_service``) and ``ClerkSession``
(``session_object``), so every bad input can be checked on both. Its tools: ``lookup`` (a plain
``function_tool``), ``durable_lookup`` (a ``durable_tool``), ``double`` (takes a number) and two with a bug
(``broken``, ``broken_durable``: they raise TypeError).
"""

from __future__ import annotations

import os

from agents import Agent, RunConfig, function_tool

from resilient_agents.config import ModelConfig
from resilient_agents.openai_agents import agent_service, durable_app, durable_tool, session_object


@function_tool
def lookup(item: str) -> str:
    """Look something up.

    Args:
        item: What to look up.
    """
    return f"{item}: in stock"


@durable_tool
async def durable_lookup(item: str) -> str:
    """Look something up in the journaled archive.

    Args:
        item: What to look up.
    """
    return f"{item}: archived"


@function_tool
def double(amount: float) -> str:
    """Double an amount.

    Args:
        amount: The amount.
    """
    return f"{int(amount * 2)}"


@function_tool
def broken(item: str) -> str:
    """A tool with a bug: it always raises TypeError.

    Args:
        item: Anything.
    """
    return item + 1  # type: ignore[operator, no-any-return]  # The bug on purpose.


@durable_tool
async def broken_durable(item: str) -> str:
    """A journaled tool with a bug: it always raises TypeError.

    Args:
        item: Anything.
    """
    return item + 1  # type: ignore[operator, no-any-return]  # The bug on purpose.


clerk = Agent(
    name="Clerk",
    instructions="Help the customer.",
    tools=[lookup, durable_lookup, double, broken, broken_durable],
)

_config = ModelConfig.from_env() if os.environ.get("OPENAI_API_KEY") else None
_run_config = _config.run_config() if _config is not None else RunConfig(tracing_disabled=True)

app = durable_app(
    [
        agent_service(clerk, name="ClerkService", run_config=lambda: _run_config),
        session_object(clerk, name="ClerkSession", run_config=lambda: _run_config),
    ]
)
