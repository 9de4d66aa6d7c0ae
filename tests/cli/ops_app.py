"""A Restate app for the operations tests (``invocations``, ``sessions list|show``), steered by files in ``$GATE_DIR``.

* ``Flaky/fetch`` (service): one journaled step ``fetch: <name>`` that raises while ``fail-<name>`` exists, so
  the invocation backs off (100 ms doubling to 500 ms, as our services do). When it is cancelled, the handler
  sees the cancellation and writes ``cancelled-<name>``.
* ``Pausing/work`` (service): a step ``work: <name>`` that raises while ``fail-<name>`` exists; after three
  attempts the invocation pauses (``on_max_attempts="pause"``), until someone resumes it.
* ``OpsSession`` (native-loop session object): the agent ``helper`` with the tools ``fetch_report``, which raises
  while ``fail-tool`` exists (retried without end); model calls retry for up to ten minutes (a model outage is
  waited out), and ``slow_lookup``, which writes ``started-slow`` and waits for ``release-slow``. The model is
  the test's model server (``$OPENAI_BASE_URL``).
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import restate

from resilient_agents.loop import (
    LoopAgent,
    LoopModelSettings,
    LoopSettings,
    ModelClient,
    OpenAIResponsesClient,
    StepRetry,
    loop_session_object,
    loop_tool,
)


def _gate() -> Path:
    return Path(os.environ["GATE_DIR"])


_BACK_OFF = restate.InvocationRetryPolicy(
    initial_interval=timedelta(milliseconds=100),
    exponentiation_factor=2.0,
    max_interval=timedelta(milliseconds=500),
    max_attempts=100_000,
    on_max_attempts="pause",
)
_PAUSE_SOON = restate.InvocationRetryPolicy(
    initial_interval=timedelta(milliseconds=50),
    max_interval=timedelta(milliseconds=50),
    max_attempts=3,
    on_max_attempts="pause",
)

flaky = restate.Service("Flaky", invocation_retry_policy=_BACK_OFF)


@flaky.handler()
async def fetch(ctx: restate.Context, name: str) -> str:
    """Fetch ``name`` from an upstream that is down while ``fail-<name>`` exists."""

    async def attempt() -> str:
        if (_gate() / f"fail-{name}").exists():
            raise ConnectionError(f"upstream {name} is down")
        return f"fetched {name}"

    try:
        return await ctx.run_typed(f"fetch: {name}", attempt)
    except restate.TerminalError as error:
        if error.status_code == 409:  # Cancelled: a real handler would undo what it did here.
            (_gate() / f"cancelled-{name}").touch()
        raise


pausing = restate.Service("Pausing", invocation_retry_policy=_PAUSE_SOON)


@pausing.handler()
async def work(ctx: restate.Context, name: str) -> str:
    """Work on ``name``; fails while ``fail-<name>`` exists."""

    async def attempt() -> str:
        if (_gate() / f"fail-{name}").exists():
            raise RuntimeError(f"work on {name} failed: disk full")
        return f"worked {name}"

    return await ctx.run_typed(f"work: {name}", attempt)


@loop_tool(retry=StepRetry(max_attempts=None, max_duration=None, max_interval=timedelta(milliseconds=500)))
async def fetch_report(topic: str) -> str:
    """Fetch the report on a topic.

    Args:
        topic: The report's topic.
    """
    if (_gate() / "fail-tool").exists():
        raise ConnectionError(f"report store unreachable while fetching {topic!r}")
    return f"report on {topic}: all good"


@loop_tool
async def slow_lookup(topic: str) -> str:
    """Look a topic up in the slow archive (waits until the test writes ``release-slow``).

    Args:
        topic: What to look up.
    """
    (_gate() / "started-slow").touch()
    while not (_gate() / "release-slow").exists():  # noqa: ASYNC110 - the signal comes from another process.
        await asyncio.sleep(0.01)
    return f"archive entry about {topic}"


def make_client() -> ModelClient:
    """The model client, pointed at the test's model server."""
    return OpenAIResponsesClient(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])


helper = LoopAgent(
    name="helper",
    instructions="Help the user; fetch reports when asked.",
    tools=[fetch_report, slow_lookup],
    model=LoopModelSettings(model="scripted"),
)
_PATIENT = LoopSettings(llm_retry=StepRetry(max_attempts=None, max_duration=timedelta(minutes=10)))

app = restate.app(
    services=[flaky, pausing, loop_session_object("OpsSession", [helper], "helper", make_client, settings=_PATIENT)]
)
