"""A ``session_object`` with a custom authorizer: the ``x-user`` header must name the session key."""

from __future__ import annotations

import os
from collections.abc import Mapping

import restate
from agents import Agent, RunConfig

from resilient_agents.access import header_value
from resilient_agents.config import ModelConfig
from resilient_agents.openai_agents import session_object


def same_user(session_key: str, headers: Mapping[str, str]) -> bool:
    """Only the user the session belongs to (as the gateway says in ``x-user``)."""
    return header_value(headers, "x-user") == session_key


_config = ModelConfig.from_env() if os.environ.get("OPENAI_API_KEY") else None
_run_config = _config.run_config() if _config is not None else RunConfig(tracing_disabled=True)

agent = Agent(name="Helper", instructions="Help the user.")
app = restate.app(services=[session_object(agent, name="Private", run_config=lambda: _run_config, authorize=same_user)])
