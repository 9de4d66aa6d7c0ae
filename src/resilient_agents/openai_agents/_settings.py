"""Durability settings of an agent run."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta

from resilient_agents._durable import RetrySettings

__all__ = ["DurableSettings", "RetrySettings"]


@dataclasses.dataclass(frozen=True)
class DurableSettings:
    """Durability settings for one agent run, given to :meth:`DurableRunner.run`."""

    llm_retry: RetrySettings = dataclasses.field(
        default_factory=lambda: RetrySettings(max_attempts=None, max_duration=timedelta(minutes=10))
    )
    """Retries of each journaled model call: 500 ms doubling to 30 s for up to 10 minutes, so a turn rides out
    a provider outage (a ``retry-after`` from the provider wins); then the call fails terminally, naming the
    model server's host and the last error."""
    tool_retry: RetrySettings = dataclasses.field(default_factory=RetrySettings)
    """Default retries of each :func:`durable_tool` call (a tool can set its own)."""
    llm_retry_by_agent: Mapping[str, RetrySettings] = dataclasses.field(default_factory=dict)
    """Model-call retries for particular agents, by agent name (e.g. a slower, pricier model)."""

    def llm_retry_for(self, agent_name: str) -> RetrySettings:
        """Return the model-call retry settings of the agent called ``agent_name``."""
        return self.llm_retry_by_agent.get(agent_name, self.llm_retry)
