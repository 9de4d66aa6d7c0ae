"""Settings of model calls and of the loop. Private module."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Literal, TypeVar

import restate

from resilient_agents._durable import RetrySettings, fast_retry_policy

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class LoopModelSettings:
    """Which model an agent uses and how it samples."""

    model: str = "gpt-4.1-mini"
    """The model name sent to the provider."""
    temperature: float | None = None
    """Sampling temperature; ``None`` leaves the provider's default."""
    top_p: float | None = None
    """Nucleus sampling; ``None`` leaves the provider's default."""
    max_tokens: int | None = None
    """Longest answer in tokens; ``None`` leaves the provider's default (Anthropic requires one: 1024)."""
    parallel_tool_calls: bool | None = None
    """Whether the model may call several tools at once; ``None`` leaves the provider's default."""


@dataclasses.dataclass(frozen=True)
class StepRetry(RetrySettings):
    """How Restate retries one journaled step of the loop (a model call or a function tool).

    :class:`resilient_agents._durable.RetrySettings` with the loop's shorter backoff: 200 ms doubling to 10 s.
    """

    initial_interval: timedelta = timedelta(milliseconds=200)
    """Wait before the first retry."""
    max_interval: timedelta = timedelta(seconds=10)
    """Upper bound of the exponential backoff."""


@dataclasses.dataclass(frozen=True)
class LoopSettings:
    """Settings of the agent loop of a session or agent service."""

    max_turns: int = 10
    """Most model calls in one turn (one user message); the guard stops runaway tool loops."""
    on_max_turns: Literal["error", "final_message"] = "error"
    """``error`` fails the turn terminally (HTTP 500 to the caller); ``final_message`` ends it with
    :attr:`max_turns_message` as the answer."""
    max_turns_message: str = "Sorry, I could not finish this request within the allowed number of steps."
    """The answer given when the guard stops a turn and :attr:`on_max_turns` is ``final_message``."""
    max_message_chars: int = 32_000
    """Longest accepted user message; longer ones fail terminally with HTTP 400."""
    llm_retry: StepRetry = dataclasses.field(default_factory=StepRetry)
    """Retries of each journaled model call."""
    tool_retry: StepRetry = dataclasses.field(default_factory=StepRetry)
    """Default retries of function tools (a tool can set its own)."""
    max_send_delay: timedelta = timedelta(days=30)
    """Longest delay a model may ask of a delayed-send tool."""
    interrupted_message: str = (
        "Interrupted: a newer message arrived before this turn finished; the turn of that message answers both."
    )
    """The answer of a turn that was cancelled (interrupted); it is not added to the history."""

    def __post_init__(self) -> None:
        if self.max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {self.max_turns}")


def default_retry_policy() -> restate.InvocationRetryPolicy:
    """Invocation retry policy of loop services: the same as the Agents SDK path's (see ``fast_retry_policy``).

    Returns:
        The retry policy.
    """
    return fast_retry_policy()
