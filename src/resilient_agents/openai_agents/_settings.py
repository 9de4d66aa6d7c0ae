"""Durability settings of an agent run."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from typing import TypeVar

import restate
from restate.serde import Serde

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class RetrySettings:
    """How Restate retries one journaled step (a model call or a durable tool) that fails transiently.

    Failures that cannot succeed on retry (HTTP 4xx other than 408/409/425/429, SDK usage errors,
    :class:`restate.TerminalError`) are never retried.
    """

    max_attempts: int | None = 10
    """Attempts before the step fails terminally; ``None`` retries until ``max_duration``."""
    initial_interval: timedelta = timedelta(milliseconds=500)
    """Wait before the first retry (a ``retry-after`` header from the provider overrides it)."""
    max_interval: timedelta = timedelta(seconds=30)
    """Upper bound of the exponential backoff between attempts."""
    factor: float = 2.0
    """Backoff multiplier between attempts."""
    max_duration: timedelta | None = timedelta(minutes=10)
    """Total time after which the step stops retrying; ``None`` for no limit."""

    def run_options(self, serde: Serde[T]) -> restate.RunOptions[T]:
        """Return these settings as the Restate SDK's :class:`restate.RunOptions`, with ``serde`` for the result."""
        return restate.RunOptions(
            serde=serde,
            max_attempts=self.max_attempts,
            initial_retry_interval=self.initial_interval,
            max_retry_interval=self.max_interval,
            retry_interval_factor=self.factor,
            max_duration=self.max_duration,
        )


@dataclasses.dataclass(frozen=True)
class DurableSettings:
    """Durability settings for one agent run, given to :meth:`DurableRunner.run`."""

    llm_retry: RetrySettings = dataclasses.field(default_factory=RetrySettings)
    """Retries of each journaled model call."""
    tool_retry: RetrySettings = dataclasses.field(default_factory=RetrySettings)
    """Default retries of each :func:`durable_tool` call (a tool can set its own)."""
    llm_retry_by_agent: Mapping[str, RetrySettings] = dataclasses.field(default_factory=dict)
    """Model-call retries for particular agents, by agent name (e.g. a slower, pricier model)."""

    def llm_retry_for(self, agent_name: str) -> RetrySettings:
        """Return the model-call retry settings of the agent called ``agent_name``."""
        return self.llm_retry_by_agent.get(agent_name, self.llm_retry)
