"""The outcomes of resolving one model answer, and the per-turn state. Private module."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TypeAlias

from resilient_agents.usage import UsageTally

from .._agent import LoopAgent
from .._client import ModelClient
from .._settings import LoopSettings
from .._types import ChatMessage, ToolCallRequest


@dataclasses.dataclass(frozen=True)
class FinalAnswer:
    """The model answered the user: the turn ends."""

    text: str
    """The answer."""


@dataclasses.dataclass(frozen=True)
class RunTools:
    """The model called tools: run them, then ask the model again."""

    calls: tuple[ToolCallRequest, ...]
    """The tool calls, in the model's order."""


@dataclasses.dataclass(frozen=True)
class HandOff:
    """The model handed the conversation to another agent (after running any other tools it called)."""

    target: str
    """The agent that answers from now on."""
    call: ToolCallRequest
    """The handoff tool call (it gets a short tool output, as every call must)."""
    other_calls: tuple[ToolCallRequest, ...] = ()
    """Ordinary tool calls of the same answer, run before the handoff."""
    ignored_handoffs: tuple[ToolCallRequest, ...] = ()
    """Further handoff calls of the same answer; only the first one counts."""


Outcome: TypeAlias = FinalAnswer | RunTools | HandOff
"""What one model answer means for the loop."""


@dataclasses.dataclass
class TurnState:
    """Mutable bookkeeping of one turn; the orchestrator owns it and hands it to each phase."""

    agents: Mapping[str, LoopAgent]
    """Every agent of the session, by name."""
    agent: LoopAgent
    """The agent answering now."""
    history: list[ChatMessage]
    """The session's history, with this turn's messages appended as they happen."""
    client: ModelClient
    """Calls the model."""
    settings: LoopSettings
    """Loop settings."""
    session_key: str = ""
    """The session object's key ("" in a stateless agent service)."""
    invocation_id: str = ""
    """The Restate invocation id of the turn (passed to tools in their :class:`LoopToolContext`)."""
    llm_calls: int = 0
    """Model calls made in this turn; numbers the ``llm:`` journal steps."""
    usage: UsageTally = dataclasses.field(default_factory=UsageTally)
    """Tokens of this turn's model responses (as journaled, so a replay counts the same)."""

    def append(self, *messages: ChatMessage) -> None:
        """Append messages to the history."""
        self.history.extend(messages)
