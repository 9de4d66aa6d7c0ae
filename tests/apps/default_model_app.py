"""An ``agent_service`` without ``run_config``: it runs on the model the environment configures."""

from __future__ import annotations

from agents import Agent

from resilient_agents.openai_agents import agent_service, durable_app

agent = Agent(name="Plain", instructions="Answer briefly.")
app = durable_app([agent_service(agent, name="Plain")])
