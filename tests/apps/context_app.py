"""A session whose run context a lone durable tool changes: the change must survive a crash after the step.

``Seats/<key>/message``: the agent assigns a seat with ``assign_seat`` (one journaled step that sets
``Booking.seat``), then answers. ``$GATE_DIR`` receives a marker per real run of the tool.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import restate
from agents import Agent, RunConfig, RunContextWrapper
from pydantic import BaseModel

from resilient_agents.config import ModelConfig
from resilient_agents.openai_agents import durable_tool, session_object


class Booking(BaseModel):
    """The session's run context."""

    customer: str
    seat: str = "unassigned"


@durable_tool
async def assign_seat(ctx: RunContextWrapper[Booking], seat: str) -> str:
    """Assign a seat to the customer.

    Args:
        seat: The seat, e.g. 10B.
    """
    (Path(os.environ["GATE_DIR"]) / f"assigned-{seat}-{time.monotonic_ns()}").touch()
    ctx.context.seat = seat
    return f"seat {seat} assigned to {ctx.context.customer}"


agent = Agent[Booking](name="SeatAgent", instructions="Assign seats with assign_seat.", tools=[assign_seat])

_config = ModelConfig.from_env() if os.environ.get("OPENAI_API_KEY") else None
_run_config = _config.run_config() if _config is not None else RunConfig(tracing_disabled=True)

app = restate.app(
    services=[
        session_object(agent, name="Seats", run_config=lambda: _run_config, context=lambda key: Booking(customer=key))
    ]
)
