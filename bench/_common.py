"""Helpers shared by the benchmarks and the apps they serve: the agent's parts, the model's script, statistics.

Importing this module has no side effects, so both the bench process and the served app can import it.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
from collections.abc import Sequence

from resilient_agents.models import ParsedRequest, Reply

AGENT_NAME = "WeatherAgent"
INSTRUCTIONS = "You are a helpful agent that answers questions about the weather. Use the get_weather tool."
QUESTION = "What is the weather in Detroit?"
CITY = "Detroit"
MODEL_NAME = "scripted"


def weather_report(city: str) -> str:
    """The tool's answer: a fixed reading, computed instantly (the bench measures overhead, not work)."""
    return json.dumps({"city": city, "temperature_c": 22, "conditions": "sunny"})


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
