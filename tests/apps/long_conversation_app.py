"""A ``session_object`` with a small history limit, for the long-conversation tests (Agents SDK path).

``Chat`` answers with ``Assistant``, which has one tool, ``lookup``; each turn sends at most the newest
:data:`LIMIT` of the stored history to the model.
"""

from __future__ import annotations

import os

import restate
from agents import Agent, RunConfig, function_tool

from resilient_agents.config import ModelConfig
from resilient_agents.openai_agents import HistoryLimit, session_object

LIMIT = HistoryLimit(max_items=40, max_chars=20_000)
"""The history limit of ``Chat``."""


@function_tool
def lookup(topic: str) -> str:
    """Look a topic up.

    Args:
        topic: What to look up.
    """
    return f"notes about {topic}"


assistant = Agent(name="Assistant", instructions="You answer questions; look things up when asked.", tools=[lookup])

_config = ModelConfig.from_env() if os.environ.get("OPENAI_API_KEY") else None
_run_config = _config.run_config() if _config is not None else RunConfig(tracing_disabled=True)

app = restate.app(
    services=[session_object(assistant, name="Chat", run_config=lambda: _run_config, history_limit=LIMIT)]
)
