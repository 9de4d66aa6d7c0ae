"""Helpers shared by the benchmarks and the apps they serve: the agent's parts, the model's script, statistics.

Importing this module has no side effects, so both the bench process and the served app can import it.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import statistics
import time
from collections.abc import Sequence

from resilient_agents.models import ParsedRequest, Reply, ToolCall

AGENT_NAME = "WeatherAgent"
INSTRUCTIONS = "You are a helpful agent that answers questions about the weather. Use the get_weather tool."
QUESTION = "What is the weather in Detroit?"
CITY = "Detroit"
MODEL_NAME = "scripted"
EXT_SERVICE = "ExtRunner"
"""The service serving the agent on Restate's ``restate.ext.openai.DurableRunner`` (a peer, not our code: it
names every model call ``call LLM``, so the benches exempt it from ``AgentTestEnv``'s step-name check)."""


def weather_report(city: str) -> str:
    """The tool's answer: a fixed reading, computed instantly (the bench measures overhead, not work)."""
    return json.dumps({"city": city, "temperature_c": 22, "conditions": "sunny"})


async def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name.
    """
    return weather_report(city)


class WeatherTurnResponder:
    """A stateless model for one agent turn: call ``get_weather`` first, then answer from the tool's output.

    It decides from the request alone (does the conversation end with a tool output?), so any number of turns,
    warm-up included, need no queued replies and a stray extra request cannot shift the script.
    """

    def respond(self, request: ParsedRequest) -> Reply:
        """Answer one model request.

        Args:
            request: The parsed request.

        Returns:
            A ``get_weather`` call for a fresh question, a text answer quoting the tool output otherwise.
        """
        outputs = request.trailing_tool_outputs()
        if not outputs:
            return Reply.call("get_weather", city=CITY)
        return Reply.say(f"Here is what I found: {outputs[-1].text}")


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` 0.9 is p90) of a non-empty sample.

    Raises:
        ValueError: For an empty sample or a fraction outside ``(0, 1]``.
    """
    if not samples:
        raise ValueError("percentile() needs at least one sample")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def median(samples: Sequence[float]) -> float:
    """Median of a non-empty sample."""
    return statistics.median(samples)


def machine_note() -> str:
    """One line about the machine the numbers come from (cores usable, CPU model, Python)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"machine: {usable} usable cores (of {os.cpu_count()}), {_cpu_model()}, "
        f"Python {platform.python_version()}, load average {load}"
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# -- the parallel-tools bench (bench/parallel_tools.py and bench/apps/parallel_tools_app.py) -------------------

PARALLEL_AGENT_NAME = "LookupAgent"
PARALLEL_INSTRUCTIONS = "You look things up. Use the slow_lookup tool, once per item asked for."
PARALLEL_CALLS = 5
"""How many tool calls the model asks for in one response, in the parallel turn."""
TOOL_MS_ENV = "BENCH_TOOL_MS"
"""Environment variable that tells the served app how long one ``slow_lookup`` call takes, in milliseconds."""
DEFAULT_TOOL_MS = 200.0


def lookup_question(calls: int) -> str:
    """The user message that makes :class:`ParallelToolsResponder` ask for ``calls`` lookups in one response."""
    return f"Look up {calls} item{'s' if calls != 1 else ''}."


def lookup_result(index: int) -> str:
    """What ``slow_lookup(index)`` returns: a token the bench finds in the final answer."""
    return f"<lookup {index} done>"


def tool_seconds_from_env() -> float:
    """The served app's ``slow_lookup`` duration in seconds, from :data:`TOOL_MS_ENV`."""
    return float(os.environ.get(TOOL_MS_ENV, DEFAULT_TOOL_MS)) / 1000.0


class ParallelToolsResponder:
    """A stateless model for the parallel-tools turn: ask for N ``slow_lookup`` calls in ONE response, then answer.

    N comes from the user message (:func:`lookup_question`); once the conversation ends with tool outputs it
    answers with text quoting all of them. Like :class:`WeatherTurnResponder` it needs no queued replies.
    """

    def respond(self, request: ParsedRequest) -> Reply:
        """Answer one model request.

        Args:
            request: The parsed request.

        Returns:
            N ``slow_lookup`` calls for a fresh question, a text answer quoting every tool output otherwise.
        """
        outputs = request.trailing_tool_outputs()
        if outputs:
            return Reply.say("Results: " + " ".join(o.text for o in outputs))
        match = re.search(r"(\d+) item", request.last_user_text or "")
        calls = int(match.group(1)) if match else 1
        return Reply.calls(*(ToolCall("slow_lookup", {"index": i}) for i in range(calls)))


# -- the concurrent-runs bench (bench/concurrent_runs.py and bench/apps/concurrent_runs_app.py) -----------------

RESEARCHER_NAME = "Researcher"
RESEARCHER_INSTRUCTIONS = "Use lookup, then answer."
GUARD_NAME = "Guard"
GUARD_INSTRUCTIONS = "Answer 'ok' unless the message is abusive."
TOPICS = ("tides", "comets", "glaciers", "volcanoes", "coral")
"""One run per topic; the ``5x`` invocation gathers all of them, the ``1x`` invocation the first."""
DEFAULT_MODEL_MS = 100.0


def topic_facts(topic: str) -> str:
    """What the ``lookup(topic)`` tool returns (instantly: the bench measures the runs' concurrency)."""
    return f"facts about {topic}"


def topic_summary(topic: str) -> str:
    """The researcher's final answer for ``topic``, as :class:`DelayedTopicResponder` words it."""
    return f"summary: {topic_facts(topic)}"


class DelayedTopicResponder:
    """A stateless model for the concurrent-runs bench that answers each request after a fixed delay.

    The guardrail agent (offered no ``lookup`` tool) gets ``ok``; the researcher first calls ``lookup`` with
    the user's message as topic, then, given its output, answers :func:`topic_summary`. It decides from the
    request alone, since the gathered runs' requests arrive in any order. The server answers each request on
    its own thread, so requests in flight at the same time wait out their delays together.
    """

    def __init__(self, delay_seconds: float) -> None:
        self.delay_seconds = delay_seconds

    def respond(self, request: ParsedRequest) -> Reply:
        """Wait the delay, then answer one model request.

        Args:
            request: The parsed request.

        Returns:
            ``ok`` for the guardrail, a ``lookup`` call for a fresh question, the summary otherwise.
        """
        time.sleep(self.delay_seconds)  # A stand-in for the model's latency; this is a server thread.
        if request.tool("lookup") is None:
            return Reply.say("ok")
        outputs = request.trailing_tool_outputs()
        if outputs:
            return Reply.say(f"summary: {outputs[-1].text}")
        return Reply.call("lookup", topic=request.last_user_text or "")
