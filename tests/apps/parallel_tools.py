"""Agents whose model asks for several durable tools at once: concurrency, determinism, crashes, context.

* ``Parallel``: tool ``rendezvous(index, group, parties)`` waits until ``parties`` calls of ``group`` are
  running at the same moment (:mod:`tests.apps.rendezvous`) and says how many met.
* ``Multi``: tool ``multi_step(index)`` runs 3 durable actions of random length (steps and a durable sleep).
* ``Gated``: tool ``quick(index)`` returns at once; tool ``gated(index)`` waits for ``$GATE_DIR/release``.
  Both leave marker files in ``$GATE_DIR`` that the test counts across kills.
* ``Context``: tools ``set_seat`` and ``set_meal`` change the run context; the handler returns the
  context after the turn.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from datetime import timedelta
from pathlib import Path

import restate
from agents import Agent, RunConfig, RunContextWrapper
from pydantic import BaseModel

from resilient_agents.config import ModelConfig
from resilient_agents.openai_agents import DurableRunner, agent_service, durable_app, durable_context, durable_tool

from .rendezvous import meet


def _run_config() -> RunConfig:
    return ModelConfig.from_env().run_config()


@durable_tool
async def rendezvous(index: int, group: str, parties: int) -> str:
    """Wait for the other calls of the same group.

    Args:
        index: Which call.
        group: The meeting.
        parties: How many calls meet.
    """
    met = await meet(group, parties)
    return f"call {index}: {met} of {parties} running together"


@durable_tool(durable_actions=True)
async def multi_step(index: int) -> str:
    """Three durable actions of random length.

    Args:
        index: Which item.
    """
    ctx = durable_context()

    async def work() -> int:
        await asyncio.sleep(random.uniform(0.0, 0.03))
        return index

    first = await ctx.run_typed(f"first {index}", work)
    await ctx.sleep(timedelta(milliseconds=int(ctx.random().random() * 30)))
    second = await ctx.run_typed(f"second {index}", work)
    return f"multi {index}: {first + second}"


def _gate() -> Path:
    return Path(os.environ["GATE_DIR"])


@durable_tool
async def quick(index: int) -> str:
    """Answers at once.

    Args:
        index: Which item.
    """
    (_gate() / f"quick-{os.getpid()}-{time.monotonic_ns()}").touch()
    return f"quick {index}"


@durable_tool
async def gated(index: int) -> str:
    """Waits for the test's release.

    Args:
        index: Which item.
    """
    gate = _gate()
    (gate / f"gated-started-{os.getpid()}-{time.monotonic_ns()}").touch()
    while not (gate / "release").exists():  # noqa: ASYNC110 - the signal comes from another process.
        await asyncio.sleep(0.01)
    (gate / f"gated-finished-{os.getpid()}-{time.monotonic_ns()}").touch()
    return f"gated {index}"


class Booking(BaseModel):
    """The run context of the ``Context`` agent."""

    seat: str = "unassigned"
    meal: str = "none"
    untouched: str = "keep"


@durable_tool
async def set_seat(wrapper: RunContextWrapper[Booking], seat: str) -> str:
    """Change the seat.

    Args:
        seat: The new seat.
    """
    wrapper.context.seat = seat
    return f"seat is {seat}"


@durable_tool
async def set_meal(wrapper: RunContextWrapper[Booking], meal: str) -> str:
    """Change the meal.

    Args:
        meal: The new meal.
    """
    wrapper.context.meal = meal
    return f"meal is {meal}"


def _agent(name: str, *tools: object) -> Agent[object]:
    return Agent(name=name, instructions="Use the tools.", tools=list(tools))  # type: ignore[arg-type]


context_service = restate.Service("Context")


@context_service.handler()
async def run(ctx: restate.Context, message: str) -> dict[str, str]:
    booking = Booking()
    agent: Agent[Booking] = Agent(name="Booker", instructions="Use the tools.", tools=[set_seat, set_meal])
    await DurableRunner.run(agent, message, context=booking, run_config=_run_config())
    return booking.model_dump()


app = durable_app(
    [
        agent_service(_agent("Parallel", rendezvous), name="Parallel", run_config=_run_config),
        agent_service(_agent("Multi", multi_step), name="Multi", run_config=_run_config),
        agent_service(_agent("Gated", quick, gated), name="Gated", run_config=_run_config),
        context_service,
    ]
)
