"""Durability settings of an agent run."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from resilient_agents._durable import RetrySettings
from resilient_agents.config import OFFLINE_URL_ENV, ModelConfig, model_configured

if TYPE_CHECKING:
    from agents import RunConfig

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


_configured: list[RunConfig] = []


def turn_run_config(build: Callable[[], RunConfig] | None) -> RunConfig | None:
    """The run configuration of one turn of ``agent_service`` / ``session_object``.

    The app's own ``run_config`` when it gives one; else, when the environment configures a model (the variables
    of :mod:`resilient_agents.config`, which ``resilient-agents up`` sets for its offline model too), the run
    configuration built from them, once per process so its HTTP client and connection pool are reused; else
    ``None``: the Agents SDK's own defaults.
    """
    if build is not None:
        return build()
    if not _configured:
        if not (model_configured() or os.environ.get(OFFLINE_URL_ENV)):
            return None
        _configured.append(ModelConfig.from_env().run_config())
    return _configured[0]
