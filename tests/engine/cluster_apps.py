"""The weather and airline examples served together by one deployment, for the cluster failover test.

Each example's own ``durable_app`` adds an ``Approvals`` object; two deployments would both offer it, so the
test serves one app with both agents (as a real deployment of several agents would).
"""

from __future__ import annotations

from examples.airline.agent import airline
from examples.weather.agent import service as weather

from resilient_agents.openai_agents import durable_app

app = durable_app([weather, airline])
