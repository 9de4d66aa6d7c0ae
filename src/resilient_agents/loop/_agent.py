"""``LoopAgent``: what an agent of the native loop is. Private module."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from ._settings import LoopModelSettings
from ._tools import LoopTool

_UNSAFE_TOOL_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


@dataclasses.dataclass(frozen=True)
class LoopAgent:
    """An agent of the native loop: a prompt, tools, the agents it may hand over to, and a model.

    Example:
        >>> triage = LoopAgent("triage", "Route the customer.", handoffs=("bank",))
    """

    name: str
    """Unique name; appears in journal step names (``llm: <name> #<n>``) and in the session's state."""
    instructions: str
    """The system prompt."""
    tools: Sequence[LoopTool] = ()
    """The tools the model may call."""
    handoffs: Sequence[str] = ()
    """Names of the agents this one may hand the conversation over to (offered as ``transfer_to_<name>``)."""
    model: LoopModelSettings = dataclasses.field(default_factory=LoopModelSettings)
    """Model name and sampling settings."""
    handoff_description: str = ""
    """How other agents' models are told what this agent is for, when they may hand over to it."""

    def __post_init__(self) -> None:
        names = [tool.name for tool in self.tools]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"agent {self.name!r} has several tools named {duplicates}; tool names must be unique")
        clashes = sorted(set(names) & {handoff_tool_name(target) for target in self.handoffs})
        if clashes:
            raise ValueError(f"agent {self.name!r}: tools {clashes} clash with the handoff tools; rename them")


def handoff_tool_name(agent_name: str) -> str:
    """The name of the tool that hands over to ``agent_name``, e.g. ``transfer_to_bank_agent``.

    Args:
        agent_name: The target agent's name.

    Returns:
        The tool name (only characters every provider accepts).
    """
    return "transfer_to_" + _UNSAFE_TOOL_CHARS.sub("_", agent_name)
