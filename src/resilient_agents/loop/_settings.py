"""Settings of model calls and of the loop. Private module."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Literal, TypeVar

import restate
from restate.serde import Serde

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class ModelSettings:
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
class StepRetry:
    """How Restate retries one journaled step (a model call or a function tool) that fails transiently.

    A :class:`restate.TerminalError` (e.g. HTTP 400 from the provider) is never retried; a
    :class:`restate.exceptions.RetryableError` with ``retry_after`` (HTTP 429) waits as long as told.
    """

    max_attempts: int | None = 10
    """Attempts before the step fails terminally; ``None`` retries until ``max_duration``."""
    initial_interval: timedelta = timedelta(milliseconds=200)
    """Wait before the first retry."""
    max_interval: timedelta = timedelta(seconds=10)
    """Upper bound of the exponential backoff."""
    factor: float = 2.0
    """Backoff multiplier between attempts."""
    max_duration: timedelta | None = timedelta(minutes=10)
    """Total time after which the step stops retrying; ``None`` for no limit."""

    def run_options(self, serde: Serde[T]) -> restate.RunOptions[T]:
        """Return these settings as :class:`restate.RunOptions` with ``serde`` for the step's result.

        Args:
            serde: Serializes the step's result into the journal.

        Returns:
            The run options.
        """
        return restate.RunOptions(
            serde=serde,
            max_attempts=self.max_attempts,
            initial_retry_interval=self.initial_interval,
            max_retry_interval=self.max_interval,
            retry_interval_factor=self.factor,
            max_duration=self.max_duration,
        )


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
    """Invocation retry policy of loop services: retry quickly, back off to at most 1 s, pause at the end.

    The same numbers as :func:`resilient_agents.openai_agents.fast_retry_policy`, defined here so the native
    loop does not import the Agents SDK. With the engine's default (500 ms doubling to a minute) a service
    that crashed and came back took over 6 s to pick its invocation up again.

    Returns:
        The retry policy.
    """
    return restate.InvocationRetryPolicy(
        initial_interval=timedelta(milliseconds=100),
        exponentiation_factor=2.0,
        max_interval=timedelta(seconds=1),
        max_attempts=3600,
        on_max_attempts="pause",
    )
