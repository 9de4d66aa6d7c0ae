"""Agents used as tools (``Agent.as_tool``): the SDK runs them itself, nested in the parent's run.

``Translate/run``: the ``Orchestrator`` calls ``to_spanish`` and ``to_french`` (two sub-agents) in one model
response, so the two nested runs go on concurrently, then answers from their outputs.
"""

from __future__ import annotations

import os

from agents import Agent, RunConfig

from resilient_agents.config import ModelConfig
from resilient_agents.openai_agents import agent_service, durable_app

spanish = Agent(name="Spanish", instructions="Translate the message to Spanish.")
french = Agent(name="French", instructions="Translate the message to French.")
orchestrator = Agent(
    name="Orchestrator",
    instructions="Translate with the tools, then report both translations.",
    tools=[
        spanish.as_tool(tool_name="to_spanish", tool_description="Translate to Spanish."),
        french.as_tool(tool_name="to_french", tool_description="Translate to French."),
    ],
)

_config = ModelConfig.from_env() if os.environ.get("OPENAI_API_KEY") else None
_run_config = _config.run_config() if _config is not None else RunConfig(tracing_disabled=True)

app = durable_app([agent_service(orchestrator, name="Translate", run_config=lambda: _run_config)])
