"""What a session and an agent service share: the agent registry and the lazily made model client. Private."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

from ._agent import LoopAgent
from ._client import ModelClient

ClientSource: TypeAlias = ModelClient | Callable[[], ModelClient]
"""A model client, or a function making one (called once, on first use, inside the serving process)."""


def agent_registry(agents: Sequence[LoopAgent], start_agent: str) -> dict[str, LoopAgent]:
    """Index the agents by name and check that names are unique and every handoff target exists.

    Args:
        agents: Every agent (handoff targets included).
        start_agent: The agent that answers first.

    Returns:
        The agents by name.

    Raises:
        ValueError: If agent names repeat, ``start_agent`` is unknown, or a handoff names an unknown agent.
    """
    registry: dict[str, LoopAgent] = {}
    for agent in agents:
        if agent.name in registry:
            raise ValueError(f"two agents are named {agent.name!r}; agent names must be unique")
        registry[agent.name] = agent
    if start_agent not in registry:
        raise ValueError(f"start_agent {start_agent!r} is not one of the agents {sorted(registry)}")
    for agent in agents:
        unknown = [target for target in agent.handoffs if target not in registry]
        if unknown:
            raise ValueError(f"agent {agent.name!r} hands off to unknown agents {unknown}; add them to `agents`")
    return registry


class LazyClient:
    """Resolves a :data:`ClientSource` once, when the first turn needs it (not at import time)."""

    def __init__(self, source: ClientSource) -> None:
        self._source = source
        self._client: ModelClient | None = source if isinstance(source, ModelClient) else None

    def get(self) -> ModelClient:
        """The client (made on the first call)."""
        if self._client is None:
            factory = self._source
            assert callable(factory)
            self._client = factory()
        return self._client
