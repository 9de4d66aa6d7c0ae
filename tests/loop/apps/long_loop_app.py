"""A ``loop_session_object`` with a small history limit, for the long-conversation tests (native loop).

``LoopChat`` answers with ``assistant``, which has one tool, ``lookup``; each turn sends at most the newest
:data:`LIMIT` of the stored history to the model (the scripted model server in ``$OPENAI_BASE_URL``).
"""

from __future__ import annotations

import os

import restate

from resilient_agents.loop import (
    HistoryLimit,
    LoopAgent,
    LoopModelSettings,
    ModelClient,
    OpenAIResponsesClient,
    loop_session_object,
    loop_tool,
)

LIMIT = HistoryLimit(max_items=40, max_chars=20_000)
"""The history limit of ``LoopChat``."""


def make_client() -> ModelClient:
    """The Responses API client, pointed at the scripted model server."""
    return OpenAIResponsesClient(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])


@loop_tool
def lookup(topic: str) -> str:
    """Look a topic up.

    Args:
        topic: What to look up.
    """
    return f"notes about {topic}"


assistant = LoopAgent(
    name="assistant",
    instructions="You answer questions; look things up when asked.",
    tools=[lookup],
    model=LoopModelSettings(model="scripted"),
)

app = restate.app(
    services=[loop_session_object("LoopChat", [assistant], "assistant", make_client, history_limit=LIMIT)]
)
